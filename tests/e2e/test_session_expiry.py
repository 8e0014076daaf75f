"""Browser tests of a visitor session that ends: a refused token makes the page say so and offer a new chat
(never silently a new visitor), an expired signed link offers the page it came from, an open page keeps its
token fresh, and a conversation closed for inactivity shows "ended" and the next message opens a new one."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from django.utils import timezone

from chat import services
from chat.models import Conversation, Message, Visitor
from enterprises.identity import identity_sign
from tests.e2e import test_browser as base

pytestmark = base.pytestmark
expect = base.expect

send = base.send
shot = base.shot
visitor_id_of = base.visitor_id_of


def open_chat(browser: Any, url: str, locale: str = "en-US") -> Any:
    page = browser.new_context(locale=locale, viewport={"width": 420, "height": 760}).new_page()
    page.goto(url)
    return page


def token_of(page: Any, enterprise: Any) -> str:
    return str(page.evaluate(f"localStorage.getItem('gofly.visitor.{enterprise.pk}')"))


def wait_open(page: Any) -> None:
    page.wait_for_function("() => GoFlyVisitor.socket.status === 'open'")


@pytest.mark.django_db(transaction=True)
def test_a_refused_session_is_explained_and_a_new_chat_starts_only_when_the_visitor_asks(
    browser: Any, server: str, enterprise: Any, agent: Any
) -> None:
    page = open_chat(browser, f"{server}/chatIndex?kefu_id={agent.username}&ent_id={enterprise.pk}&lang=en")
    first = visitor_id_of(page)
    wait_open(page)
    send(page, "Where is my parcel?")
    expect(page.locator(".msg--out").last).to_have_attribute("data-state", re.compile("sent|read"))

    # The visitor is gone on the server (an admin deleted it); the socket reconnects and is refused.
    Visitor.objects.filter(visitor_id=first).delete()
    page.evaluate("GoFlyVisitor.socket._drop(1006)")
    panel = page.locator("#session-expired")
    expect(panel).to_be_visible()
    expect(panel).to_contain_text("Your chat session has expired.")
    expect(page.locator("#session-restart")).to_have_text("Start a new chat")
    expect(page.locator("#session-source")).to_be_hidden()
    # Nothing happened behind the visitor's back: the thread is still shown, no new visitor exists.
    expect(page.locator(".msg--out .bubble").last).to_have_text("Where is my parcel?")
    expect(page.locator("#composer-input")).to_be_disabled()
    expect(page.locator("#conn-banner")).to_be_hidden()
    time.sleep(2)  # longer than any reconnect backoff: still nobody new
    assert not Visitor.objects.exists()
    shot(page, "visitor-session-expired")

    page.locator("#session-restart").click()
    expect(panel).to_be_hidden()
    wait_open(page)
    second = page.evaluate("GoFlyVisitor.state.visitor.visitor_id")
    assert second != first and Visitor.objects.filter(visitor_id=second).exists()
    expect(page.locator(".msg--out")).to_have_count(0)
    expect(page.locator("#composer-input")).to_be_enabled()
    send(page, "Hello again")
    expect(page.locator(".msg--out").last).to_have_attribute("data-state", re.compile("sent|read"))
    assert Message.objects.get(visitor__visitor_id=second).content == "Hello again"


@pytest.mark.django_db(transaction=True)
def test_a_page_reopened_with_a_token_no_longer_valid_says_so_in_chinese_before_the_new_chat(
    browser: Any, server: str, enterprise: Any, agent: Any
) -> None:
    url = f"{server}/chatIndex?ent_id={enterprise.pk}&lang=zh-cn"
    page = open_chat(browser, url, locale="zh-CN")
    visitor_id_of(page)
    # A token that is no longer good (forged here; expired ones are refused alike, tests/chat/test_session_expiry.py).
    page.evaluate(f"localStorage.setItem('gofly.visitor.{enterprise.pk}', 'eyJ2IjoxLCJlIjoxfQ:1xWbYa:bad')")
    page.reload()
    panel = page.locator("#session-expired")
    expect(panel).to_contain_text("您的会话已过期。")
    expect(page.locator("#session-restart")).to_have_text("开始新的对话")
    expect(page.locator("#composer-input")).to_be_disabled()
    shot(page, "visitor-session-expired-zh")
    page.locator("#session-restart").click()
    expect(panel).to_be_hidden()
    wait_open(page)
    send(page, "你好")
    expect(page.locator(".msg--out").last).to_have_attribute("data-state", re.compile("sent|read"))
    assert Visitor.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_an_expired_signed_link_offers_the_page_it_came_from(
    browser: Any, server: str, enterprise: Any, agent: Any
) -> None:
    enterprise.identity_secret = "s3cret"
    enterprise.save()
    stamp = str(int(time.time()) - 3600)  # signed an hour ago: older than the 10 minutes allowed
    signature = identity_sign(secret="s3cret", visitor_id="u-42", visitor_name="Li Lei", timestamp=stamp)
    query = {
        "ent_id": enterprise.pk,
        "lang": "en",
        "visitor_id": "u-42",
        "visitor_name": "Li Lei",
        "timestamp": stamp,
        "signature": signature,
        "landing_page": "https://shop.example.com/account",
    }
    page = open_chat(browser, f"{server}/chatIndex?{urlencode(query)}")
    panel = page.locator("#session-expired")
    expect(panel).to_contain_text("Your chat session has expired.")
    expect(panel).to_contain_text("Reload the page you came from")
    source = page.locator("#session-source")
    expect(source).to_have_attribute("href", "https://shop.example.com/account")
    expect(source).to_have_attribute("target", "_top")
    expect(page.locator("#session-restart")).to_be_hidden()
    expect(page.locator("#composer-input")).to_be_disabled()
    assert not Visitor.objects.exists()
    shot(page, "visitor-signature-expired")


@pytest.mark.django_db(transaction=True)
def test_an_open_page_swaps_its_token_for_a_fresh_one_and_keeps_its_visitor(
    browser: Any, server: str, enterprise: Any, agent: Any
) -> None:
    page = open_chat(browser, f"{server}/chatIndex?ent_id={enterprise.pk}&lang=en")
    visitor_id = visitor_id_of(page)
    wait_open(page)
    before = token_of(page, enterprise)
    time.sleep(1.1)  # tokens carry their issue time in seconds: a fresh one differs
    # The token is old (the page has been open for long): the next connect swaps it.
    page.evaluate("GoFlyVisitor.state.tokenAt = Date.now() - 13 * 3600 * 1000; GoFlyVisitor.socket._drop(1006)")
    page.wait_for_function(f"() => localStorage.getItem('gofly.visitor.{enterprise.pk}') !== {before!r}")
    wait_open(page)
    assert page.evaluate("Date.now() - GoFlyVisitor.state.tokenAt") < 60000
    page.reload()
    assert visitor_id_of(page) == visitor_id
    expect(page.locator("#session-expired")).to_be_hidden()
    assert Visitor.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_conversation_closed_for_inactivity_shows_ended_and_writing_again_opens_a_new_one(
    browser: Any, server: str, enterprise: Any, agent: Any
) -> None:
    page = open_chat(browser, f"{server}/chatIndex?ent_id={enterprise.pk}&lang=en")
    visitor_id = visitor_id_of(page)
    wait_open(page)
    send(page, "Anyone there?")
    expect(page.locator(".msg--out").last).to_have_attribute("data-state", re.compile("sent|read"))
    first = Conversation.objects.get(visitor__visitor_id=visitor_id)
    later = timezone.now() + timedelta(minutes=enterprise.auto_close_minutes + 1)
    # In a thread of its own: it publishes its events through async_to_sync, and this one runs Playwright's loop.
    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(services.conversations_close_idle, now=later).result() == 1
    # Live through Redis; on the embedded server (another process's memory) the page learns it when it reconnects.
    page.evaluate("GoFlyVisitor.socket._drop(1006)")
    expect(page.locator("#ended-notice")).to_be_visible()
    expect(page.locator(".msg--event").last).to_contain_text("inactivity")
    expect(page.locator("#session-expired")).to_be_hidden()
    send(page, "Hello again")
    expect(page.locator("#ended-notice")).to_be_hidden()
    expect(page.locator(".msg--out").last).to_have_attribute("data-state", re.compile("sent|read"))
    second = Conversation.objects.exclude(pk=first.pk).get(visitor__visitor_id=visitor_id)
    assert second.status in ("waiting", "open")
    assert Conversation.objects.get(pk=first.pk).status == "closed"
