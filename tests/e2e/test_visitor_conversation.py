"""Browser tests of the visitor's conversation: their place in the queue, who serves them, its end, "End chat",
and a cleared history; the agent side acts over the HTTP API with a JWT, as an app would."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from accounts.services import agent_create
from chat.models import Conversation, Message
from tests.conftest import AGENT_PASSWORD
from tests.e2e import test_browser as base

pytestmark = base.pytestmark
expect = base.expect

# The fixtures of the browser tests: Debian's chromium, and a live server on the test database.
PHONE = base.PHONE
send = base.send
shot = base.shot
visitor_id_of = base.visitor_id_of


class AgentAPI:
    """An agent acting over /api/v1 with a JWT (an agent app; the console is not under test here)."""

    def __init__(self, server: str, username: str, password: str = AGENT_PASSWORD) -> None:
        self.http = httpx.Client(base_url=server, timeout=10)
        answer = self.http.post("/api/v1/auth/token", json={"username": username, "password": password})
        assert answer.status_code == 200, answer.text
        self.http.headers["Authorization"] = f"Bearer {answer.json()['access']}"

    def post(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        answer = self.http.post(path, json=body or {})
        assert answer.status_code in (200, 201), answer.text
        return dict(answer.json())

    def close(self) -> None:
        self.http.close()


def live_conversation(visitor_id: str) -> Conversation:
    return Conversation.objects.get(visitor__visitor_id=visitor_id, status__in=["waiting", "open"])


def queue_text(page: Any) -> Any:
    return page.locator("#agent-status-text")


@pytest.mark.django_db(transaction=True)
def test_a_visitor_sees_their_place_in_the_queue_who_serves_them_and_the_end_and_can_end_the_chat_themselves(
    browser: Any, server: str, enterprise: Any, agent: Any
) -> None:
    # --- no agent online: the first visitor to write is number 1 in the queue ---------------------
    phone_context = browser.new_context(**PHONE)
    phone = phone_context.new_page()
    phone.goto(f"{server}/chatIndex?ent_id={enterprise.pk}")
    first = visitor_id_of(phone)
    expect(phone.locator("#agent-name")).to_have_text("Acme")
    expect(phone.locator("#end-chat")).to_be_hidden()  # nothing to end yet
    send(phone, "Is anyone there?")
    expect(queue_text(phone)).to_have_text("You are number 1 in the queue")
    expect(phone.locator("#agent-status")).to_have_attribute("data-state", "waiting")
    expect(phone.locator("#offline-notice")).to_contain_text("We are away.")
    expect(phone.locator("#end-chat")).to_be_visible()
    shot(phone, "visitor-queue-phone")

    # --- a second visitor is number 2 ----------------------------------------------------------------
    desktop_context = browser.new_context(viewport={"width": 1280, "height": 800})
    desktop = desktop_context.new_page()
    desktop.goto(f"{server}/chatIndex?ent_id={enterprise.pk}")
    second = visitor_id_of(desktop)
    send(desktop, "Me too")
    expect(queue_text(desktop)).to_have_text("You are number 2 in the queue")

    # --- the agent takes the first: the second moves up live, the first sees who serves them ------
    alice = AgentAPI(server, agent.username)
    first_conversation = live_conversation(first)
    taken = alice.post(f"/api/v1/agent/conversations/{first_conversation.pk}/take")
    assert (taken["status"], taken["assignee"]["name"]) == ("open", "Alice")
    expect(queue_text(desktop)).to_have_text("You are number 1 in the queue")
    expect(phone.locator("#agent-name")).to_have_text("Alice")
    expect(phone.locator("#agent-status")).not_to_have_attribute("data-state", "waiting")
    expect(phone.locator('.msg--event[data-event="taken"]')).to_have_text(re.compile(r"^Alice is now serving you"))
    alice.post(f"/api/v1/agent/visitors/{first}/messages", {"client_id": "a-1", "content": "Hi, Alice here."})
    expect(phone.locator(".msg--in .bubble").last).to_have_text("Hi, Alice here.")
    shot(phone, "visitor-served-phone")

    # --- the agent closes: the visitor sees it ended, keeps the history, may start again ----------
    alice.post(f"/api/v1/agent/conversations/{first_conversation.pk}/close")
    ended = phone.locator("#ended-notice")
    expect(ended).to_be_visible()
    expect(ended).to_contain_text("This conversation has ended")
    expect(ended).to_contain_text("Write to start a new conversation")
    expect(phone.locator('.msg--event[data-event="closed"]')).to_have_text(re.compile(r"^Alice ended the conversation"))
    expect(phone.locator("#end-chat")).to_be_hidden()
    expect(phone.locator(".msg--out .bubble").first).to_have_text("Is anyone there?")
    expect(phone.locator(".msg--in .bubble").last).to_have_text("Hi, Alice here.")
    shot(phone, "visitor-ended-phone")

    # A reload still shows that it ended (`ready` names no conversation; the thread says there was one).
    phone.reload()
    expect(phone.locator("#ended-notice")).to_be_visible()
    expect(phone.locator(".msg--out .bubble").first).to_have_text("Is anyone there?")

    # --- writing again opens a new conversation (behind the second visitor, still waiting) --------
    send(phone, "One more question")
    expect(phone.locator("#ended-notice")).to_be_hidden()
    expect(queue_text(phone)).to_have_text("You are number 2 in the queue")
    assert Conversation.objects.filter(visitor__visitor_id=first).count() == 2
    again = live_conversation(first)
    assert again.pk != first_conversation.pk

    # --- "End chat" asks first; cancelling keeps the conversation ------------------------------------
    phone.locator("#end-chat").click()
    dialog = phone.locator("#end-confirm")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("End this chat?")
    shot(phone, "visitor-end-confirm-phone")
    phone.locator("#end-cancel").click()
    expect(dialog).to_be_hidden()
    assert live_conversation(first).pk == again.pk

    # --- confirming closes it over the socket: closed by the visitor ---------------------------------
    phone.locator("#end-chat").click()
    phone.locator("#end-ok").click()
    expect(phone.locator("#ended-notice")).to_be_visible()
    expect(phone.locator('.msg--event[data-event="closed"]').last).to_have_text(
        re.compile(r"^You ended the conversation")
    )
    expect(phone.locator("#end-chat")).to_be_hidden()
    again.refresh_from_db()
    assert (again.status, again.closed_by) == ("closed", "visitor")
    # The second visitor was ahead of it all along, and still waits.
    expect(queue_text(desktop)).to_have_text("You are number 1 in the queue")
    assert live_conversation(second).status == "waiting"
    shot(desktop, "visitor-queue-desktop")

    alice.close()
    for context in (phone_context, desktop_context):
        context.close()


@pytest.mark.django_db(transaction=True)
def test_end_chat_without_a_socket_closes_over_http_and_a_cleared_history_empties_the_page_in_chinese(
    browser: Any, server: str, enterprise: Any, agent: Any
) -> None:
    context = browser.new_context(**PHONE)
    page = context.new_page()
    page.goto(f"{server}/chatIndex?ent_id={enterprise.pk}&lang=zh-hans")
    visitor_id = visitor_id_of(page)
    send(page, "First conversation")
    expect(queue_text(page)).to_have_text("排队中，您排在第 1 位")
    conversation = live_conversation(visitor_id)

    # The socket is gone (stopped for good): "End chat" falls back to POST /api/v1/visitor/conversation/close.
    page.evaluate("GoFlyVisitor.socket.stop()")
    expect(page.locator("#end-chat")).to_have_text("结束会话")
    page.locator("#end-chat").click()
    expect(page.locator("#end-confirm")).to_contain_text("结束本次会话？")
    page.locator("#end-ok").click()
    expect(page.locator("#ended-notice")).to_have_text(re.compile(r"本次会话已结束\s*发送消息即可开始新的会话"))
    expect(page.locator("#end-chat")).to_be_hidden()
    conversation.refresh_from_db()
    assert (conversation.status, conversation.closed_by) == ("closed", "visitor")

    # Back online, the visitor writes again; then an enterprise admin clears their history.
    page.reload()
    expect(page.locator('.msg--event[data-event="closed"]')).to_have_text(re.compile(r"^您结束了会话"))
    send(page, "Second conversation")
    expect(queue_text(page)).to_have_text("排队中，您排在第 1 位")
    expect(page.locator(".msg--out")).to_have_count(2)
    agent_create(
        enterprise=enterprise, username="boss", password=AGENT_PASSWORD, nickname="Boss", role="enterprise_admin"
    )
    boss = AgentAPI(server, "boss")
    assert boss.post(f"/api/v1/agent/visitors/{visitor_id}/clear") == {"cleared": True}
    expect(page.locator("#messages .msg:not(.msg--welcome)")).to_have_count(0)
    expect(page.locator("#welcome")).to_contain_text("Welcome to Acme!")
    expect(page.locator("#ended-notice")).to_be_hidden()
    expect(page.locator("#end-chat")).to_be_hidden()
    expect(page.locator("#agent-status")).not_to_have_attribute("data-state", "waiting")
    shot(page, "visitor-cleared-phone")

    # The empty page works as a new one: the next message opens a conversation.
    send(page, "After the clear")
    expect(queue_text(page)).to_have_text("排队中，您排在第 1 位")
    expect(page.locator(".msg--out")).to_have_count(1)
    assert Conversation.objects.filter(visitor__visitor_id=visitor_id).count() == 1
    boss.close()
    context.close()


@pytest.mark.django_db(transaction=True)
def test_what_a_visitor_writes_before_the_page_script_runs_is_sent_not_left_as_a_new_line(
    browser: Any, server: str, enterprise: Any, agent: Any
) -> None:
    """On a slow network (or a loaded machine) the page shows its text box before visitor.js runs, and an
    Enter pressed then only added a line: the first message stayed in the box, unsent. The box stays
    disabled until the script listens to it."""
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    held: list[Any] = []
    # Hashed names (visitor.<hash>.js) since static files are fingerprinted.
    page.route(re.compile(r"/static/js/visitor(\.[0-9a-f]{12})?\.js"), lambda route: held.append(route))
    page.goto(f"{server}/chatIndex?kefu_id={agent.username}&ent_id={enterprise.pk}&lang=en", wait_until="commit")
    box = page.locator("#composer-input")
    expect(box).to_be_attached()
    page.wait_for_timeout(300)
    assert held, "the page did not ask for its script"
    expect(box).to_be_disabled()
    held[0].continue_()
    send(page, "Before the script")
    visitor_id = visitor_id_of(page)
    expect(page.locator('.msg--out[data-state="sent"] .bubble')).to_have_text(["Before the script"])
    assert list(Message.objects.filter(visitor__visitor_id=visitor_id).values_list("content", flat=True)) == [
        "Before the script"
    ]
    expect(box).to_have_value("")
    context.close()
