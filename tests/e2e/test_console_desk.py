"""Browser tests of the agent console's desk: conversation tabs, routing and the queue, close, take and
transfer with a note, the team's statuses, clearing a history, and the phone layout; two agents, three
visitors, a real server and Debian's chromium."""

from __future__ import annotations

import re
from typing import Any

import pytest

from accounts.models import User
from accounts.services import agent_create
from chat.models import Conversation
from tests.conftest import AGENT_PASSWORD
from tests.e2e import test_browser
from tests.e2e.test_browser import NOTIFICATION_SPY, PHONE, expect, log_in, send, shot, visitor_id_of

pytestmark = test_browser.pytestmark


def open_console(chromium: Any, base: str, username: str, **context: Any) -> tuple[Any, Any]:
    options = {"viewport": {"width": 1440, "height": 900}, "permissions": ["notifications"], **context}
    ctx = chromium.new_context(**options)
    ctx.add_init_script(NOTIFICATION_SPY)
    page = ctx.new_page()
    log_in(page, base, username, AGENT_PASSWORD)
    page.wait_for_url(re.compile(r"/console$"))
    expect(page.locator("#conn-status")).to_have_attribute("data-state", "open")
    return ctx, page


def conversation_row(console: Any, visitor_id: str) -> Any:
    return console.locator(f'.crow[data-visitor-id="{visitor_id}"]')


def tab(console: Any, name: str) -> Any:
    return console.locator(f'[data-tab="{name}"]')


def count(console: Any, name: str) -> Any:
    return console.locator(f"#count-{name}")


def team_member(console: Any, agent: User) -> Any:
    return console.locator(f'#team-list .team__item[data-agent-id="{agent.pk}"]')


def event_line(console: Any, code: str) -> Any:
    return console.locator(f'#messages .msg--event[data-event="{code}"]')


def notified(console: Any, predicate: str) -> None:
    console.wait_for_function(f"() => window.__notifications.some(n => {predicate})")


def open_visitor(chromium: Any, base: str, enterprise: Any, text: str) -> tuple[Any, str]:
    """A visitor on a desktop who writes `text` (no agent named: routing chooses); their context and id."""
    ctx = chromium.new_context(viewport={"width": 1100, "height": 760})
    page = ctx.new_page()
    page.goto(f"{base}/chatIndex?ent_id={enterprise.pk}")
    visitor_id = visitor_id_of(page)
    page.wait_for_function("() => GoFlyVisitor.socket.status === 'open'")
    send(page, text)
    expect(page.locator(".msg--out").last).to_have_attribute("data-state", re.compile("sent|read"))
    return ctx, visitor_id


@pytest.mark.django_db(transaction=True)
def test_two_agents_share_the_desk_routing_the_queue_close_and_transfer_with_a_note(
    browser: Any,
    server: str,
    enterprise: Any,
    agent: User,
) -> None:
    # Alice is an agent, Bob an enterprise admin (he may also clear histories); each serves one at a time.
    bob = agent_create(
        enterprise=enterprise, username="kefu3", password=AGENT_PASSWORD, nickname="Bob", role="enterprise_admin"
    )
    User.objects.filter(pk__in=[agent.pk, bob.pk]).update(max_conversations=1)
    contexts = []
    alice_ctx, alice_page = open_console(browser, server, agent.username)
    bob_ctx, bob_page = open_console(browser, server, bob.username)
    contexts += [alice_ctx, bob_ctx]
    consoles = {agent.pk: alice_page, bob.pk: bob_page}
    for page, colleague in ((alice_page, bob), (bob_page, agent)):
        expect(team_member(page, colleague)).to_have_attribute("data-status", "online")
        expect(page.locator("#me-toggle")).to_have_attribute("data-status", "online")
    expect(bob_page.locator("#act-take")).to_have_count(1)

    # --- visitor 1 writes: routed to the least loaded agent (A), visitor 2 to the other (B) ----------
    v1_ctx, first = open_visitor(browser, server, enterprise, "Hello from visitor one")
    served = Conversation.objects.get(visitor__visitor_id=first)
    assert served.status == "open" and served.assignee_id in consoles
    a_user = agent if served.assignee_id == agent.pk else bob
    b_user = bob if a_user is agent else agent
    a, b = consoles[a_user.pk], consoles[b_user.pk]
    expect(count(a, "mine")).to_have_text("1")
    expect(count(b, "mine")).to_have_text("0")
    expect(count(b, "open")).to_have_text("1")
    tab(a, "mine").click()
    expect(conversation_row(a, first).locator(".crow__assignee")).to_have_text("You")
    expect(conversation_row(a, first).locator(".vrow__preview")).to_have_text("Hello from visitor one")
    notified(a, "n.body === 'Hello from visitor one'")

    v2_ctx, second = open_visitor(browser, server, enterprise, "Hello from visitor two")
    assert Conversation.objects.get(visitor__visitor_id=second).assignee_id == b_user.pk
    expect(count(b, "mine")).to_have_text("1")
    expect(count(a, "open")).to_have_text("2")
    tab(a, "open").click()
    expect(conversation_row(a, second).locator(".crow__assignee")).to_have_text(b_user.nickname)
    expect(conversation_row(a, second).locator(".chip")).to_have_text("Open")

    # --- visitor 3 finds both full: the queue, in both consoles, with a waiting time that ticks ------
    v3_ctx, third = open_visitor(browser, server, enterprise, "Anyone there? Visitor three")
    contexts += [v1_ctx, v2_ctx, v3_ctx]
    assert Conversation.objects.get(visitor__visitor_id=third).status == "waiting"
    for console in (a, b):
        expect(count(console, "queue")).to_have_text("1")
        tab(console, "queue").click()
        waiting = conversation_row(console, third)
        expect(waiting).to_have_attribute("data-status", "waiting")
        expect(waiting.locator(".crow__wait")).to_have_text(re.compile(r"^Waiting \d+:\d\d$"))
        notified(console, "n.title.includes('is waiting')")
        notified(console, "n.body === 'Anyone there? Visitor three'")
    ticking = conversation_row(a, third).locator(".crow__wait")
    before = ticking.inner_text()
    expect(ticking).not_to_have_text(before, timeout=4000)
    shot(a, "desk-queue")
    # Messages of a colleague's conversation update its row without a sound or a notification.
    assert not any(n["body"] == "Hello from visitor two" for n in a.evaluate("window.__notifications"))
    assert not any(n["body"] == "Hello from visitor one" for n in b.evaluate("window.__notifications"))

    # --- B tries to take it while full: the server's refusal is shown ---------------------------------
    conversation_row(b, third).locator("button").click()
    expect(b.locator("#convbar .chip")).to_have_text(re.compile(r"^Waiting \d+:\d\d$"))
    expect(b.locator("#convbar")).to_contain_text("In the queue")
    b.locator("#act-take").click()
    expect(b.locator("#toast")).to_contain_text("You already have as many open conversations")
    expect(count(b, "queue")).to_have_text("1")

    # --- A closes visitor 1's conversation (confirmed): visitor 3 is routed to A at once --------------
    tab(a, "mine").click()
    conversation_row(a, first).locator("button").click()
    expect(a.locator("#convbar")).to_contain_text("Served by You")
    expect(a.locator("#act-reopen")).to_be_hidden()
    a.locator("#act-close").click()
    expect(a.locator("#confirm-dialog")).to_be_visible()
    expect(a.locator("#confirm-title")).to_have_text("Close this conversation?")
    shot(a, "desk-close-confirm")
    a.locator("#confirm-ok").click()
    expect(a.locator("#confirm-dialog")).to_be_hidden()
    expect(conversation_row(a, third)).to_be_visible()  # Mine: the queue's conversation came to A
    expect(conversation_row(a, first)).to_have_count(0)
    expect(count(a, "mine")).to_have_text("1")
    for console in (a, b):
        expect(count(console, "queue")).to_have_text("0")
        expect(count(console, "closed")).to_have_text("1")
    notified(a, "n.title.includes('is now yours')")
    expect(a.locator("#convbar .chip")).to_have_text("Closed")
    expect(a.locator("#act-reopen")).to_be_visible()
    closed_line = event_line(a, "closed")
    expect(closed_line.locator(".msg--system__text")).to_have_text(f"{a_user.nickname} closed the conversation")
    expect(closed_line.locator(".msg--event__time")).to_have_text(re.compile(r"\d"))
    assert Conversation.objects.get(visitor__visitor_id=third).assignee_id == a_user.pk
    expect(b.locator("#convbar .chip")).to_have_text("Open")  # B still looks at visitor 3: now A's
    expect(b.locator("#convbar")).to_contain_text(f"Served by {a_user.nickname}")
    expect(b.locator("#act-take")).to_be_hidden()
    expect(b.locator('#messages .msg--event[data-event="assigned"]')).to_have_count(1)

    # --- B transfers visitor 2 to A with a note: refused while A is full, done once A has room -------
    tab(b, "mine").click()
    conversation_row(b, second).locator("button").click()
    b.locator("#act-transfer").click()
    dialog = b.locator("#transfer-dialog")
    expect(dialog).to_be_visible()
    option = dialog.locator(f'.agent-option[data-agent-id="{a_user.pk}"]')
    expect(option).to_contain_text("1 of 1 open")
    expect(option.locator(".chip--full")).to_be_visible()
    expect(dialog.locator(f'.agent-option[data-agent-id="{b_user.pk}"]')).to_have_count(0)  # the assignee
    option.click()
    dialog.locator("#transfer-note").fill("VIP, wants a refund")
    shot(b, "desk-transfer-dialog")
    dialog.locator("#transfer-submit").click()
    refusal = f"{a_user.nickname} already has as many open conversations"
    expect(dialog.locator("#transfer-error")).to_contain_text(refusal)
    expect(dialog).to_be_visible()
    User.objects.filter(pk=a_user.pk).update(max_conversations=2)
    dialog.locator("#transfer-submit").click()
    expect(dialog).to_be_hidden()
    expect(b.locator("#toast")).to_have_text(f"Transferred to {a_user.nickname}.")
    expect(count(b, "mine")).to_have_text("0")
    expect(b.locator("#convbar")).to_contain_text(f"Served by {a_user.nickname}")
    transferred = f"{b_user.nickname} transferred the conversation to {a_user.nickname}"
    expect(event_line(b, "transferred").locator(".msg--system__text")).to_have_text(transferred)
    expect(b.locator("#transfer-note-banner")).to_be_hidden()  # the note is for A alone

    expect(count(a, "mine")).to_have_text("2")
    notified(a, f"n.title.includes('{b_user.nickname} transferred') && n.body === 'VIP, wants a refund'")
    conversation_row(a, second).locator("button").click()
    expect(a.locator("#transfer-note-banner")).to_have_text(f"Note from {b_user.nickname}: VIP, wants a refund")
    expect(event_line(a, "transferred").locator(".msg--system__text")).to_have_text(transferred)
    expect(a.locator("#convbar")).to_contain_text("Served by You")
    shot(a, "desk-transferred")
    # The note also comes back from the server after a reload.
    a.reload()
    expect(a.locator("#conn-status")).to_have_attribute("data-state", "open")
    tab(a, "mine").click()
    conversation_row(a, second).locator("button").click()
    # The server keeps the note; the thread's transfer line says who wrote it.
    expect(a.locator("#transfer-note-banner")).to_have_text(f"Note from {b_user.nickname}: VIP, wants a refund")

    # --- the agents' own status, live in the colleague's team list ----------------------------------
    a.locator("#me-toggle").click()
    expect(a.locator("#me-panel")).to_be_visible()
    expect(team_member(a, b_user)).to_contain_text("0 of 1 open")
    expect(team_member(a, a_user)).to_contain_text("2 of 2 open")
    shot(a, "desk-status-panel")
    a.locator('.status-choice[data-status="away"]').click()
    expect(a.locator("#me-toggle")).to_have_attribute("data-status", "away")
    expect(team_member(b, a_user)).to_have_attribute("data-status", "away")
    a.locator('.status-choice[data-status="online"]').click()
    expect(team_member(b, a_user)).to_have_attribute("data-status", "online")
    a.keyboard.press("Escape")
    expect(a.locator("#me-panel")).to_be_hidden()

    # --- clearing a history: for those allowed, confirmed, gone from every console -------------------
    admin, plain = (a, b) if a_user == bob else (b, a)
    for console in (admin, plain):
        tab(console, "closed").click()
        expect(conversation_row(console, first)).to_be_visible()
    conversation_row(plain, first).locator("button").click()
    expect(plain.locator("#act-reopen")).to_be_visible()
    expect(plain.locator("#act-clear")).to_be_hidden()
    conversation_row(admin, first).locator("button").click()
    admin.locator("#act-clear").click()
    expect(admin.locator("#confirm-title")).to_have_text("Clear this visitor's history?")
    admin.locator("#confirm-ok").click()
    for console in (admin, plain):
        expect(conversation_row(console, first)).to_have_count(0)
        expect(count(console, "closed")).to_have_text("0")
        expect(console.locator("#messages .msg")).to_have_count(0)
    assert not Conversation.objects.filter(visitor__visitor_id=first).exists()

    # --- the same desk on a phone, in Chinese --------------------------------------------------------
    phone_ctx, phone = open_console(browser, server, a_user.username, locale="zh-CN", **PHONE)
    contexts.append(phone_ctx)
    tabs = phone.locator(".tabs--conv .tab")
    expect(tabs).to_have_count(4)
    expect(tab(phone, "mine")).to_contain_text("我的")
    expect(tab(phone, "queue")).to_contain_text("排队")
    for i in range(4):
        box = tabs.nth(i).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    tab(phone, "mine").click()
    expect(count(phone, "mine")).to_have_text("2")
    expect(conversation_row(phone, second)).to_be_visible()
    expect(conversation_row(phone, third)).to_be_visible()
    expect(conversation_row(phone, third).locator(".vrow__preview")).to_have_text(f"{a_user.nickname} 开始接待")
    shot(phone, "desk-phone-mine")
    conversation_row(phone, second).locator("button").click()
    expect(phone.locator("#chat-back")).to_be_visible()
    expect(phone.locator(".sidebar")).to_be_hidden()
    for action in ("#act-transfer", "#act-close"):
        box = phone.locator(action).bounding_box()
        assert box is not None and box["x"] + box["width"] <= 390 and box["height"] >= 30, (action, box)
    expect(phone.locator("#transfer-note-banner")).to_have_text(f"{b_user.nickname} 的备注：VIP, wants a refund")
    expect(phone.locator("#convbar")).to_contain_text("由 我 接待")
    phone.locator("#act-transfer").click()
    sheet = phone.locator("#transfer-dialog")
    expect(sheet).to_be_visible()
    box = sheet.bounding_box()
    assert box is not None and box["width"] <= 390 and box["y"] + box["height"] <= 844 + 1, box
    shot(phone, "desk-phone-transfer")
    phone.locator("#transfer-cancel").click()
    expect(sheet).to_be_hidden()
    # Without its socket the console acts over HTTP: A closes visitor 2's conversation from the phone.
    phone.evaluate("GoFlyConsole.socket.stop()")
    assert phone.evaluate("GoFlyConsole.socket.isOpen()") is False
    phone.locator("#act-close").click()
    phone.locator("#confirm-ok").click()
    expect(phone.locator("#convbar .chip")).to_have_text("已结束")
    expect(phone.locator("#act-reopen")).to_be_visible()
    assert Conversation.objects.get(visitor__visitor_id=second).status == "closed"
    expect(count(a, "mine")).to_have_text("1")  # the desktop console heard it on its socket
    phone.locator("#chat-back").click()
    expect(count(phone, "mine")).to_have_text("1")
    expect(phone.locator(".tabs--conv")).to_be_visible()
    phone.locator("#me-toggle").click()
    expect(phone.locator("#me-panel")).to_be_visible()
    panel = phone.locator("#me-panel").bounding_box()
    assert panel is not None and panel["x"] >= 0 and panel["x"] + panel["width"] <= 390, panel
    shot(phone, "desk-phone-status")

    for context in contexts:
        context.close()
