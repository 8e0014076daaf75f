"""Browser test of the visitor page's language: `lang` in the link (zh-cn, cn, zh-hans, en) wins over the
browser's, and in Chinese no English is left in the page's own words, in any state it can be in (offline
with the leave-a-message form and its refusal, the emoji panel, a message sent and read, "End chat?", a
pinned product, an expired session), nor in what the server says to it."""

from __future__ import annotations

import base64
import json
import re
from typing import Any
from urllib.parse import quote

import pytest

from accounts.models import User
from replies.models import WelcomeText
from tests.e2e import test_browser as base

pytestmark = base.pytestmark
expect = base.expect

send = base.send
shot = base.shot
visitor_id_of = base.visitor_id_of

# Every word the page shows of its own: visible text, placeholders, labels and tooltips of visible elements,
# and the title. The operator's data (names, welcome, the product) is written in Chinese below.
PAGE_WORDS = """() => {
  const seen = [document.title];
  const visible = (n) => !!(n.offsetWidth || n.offsetHeight || n.getClientRects().length);
  seen.push(document.body.innerText);
  for (const n of document.querySelectorAll("[placeholder], [aria-label], [title], img[alt]")) {
    if (!visible(n)) continue;
    for (const a of ["placeholder", "aria-label", "title", "alt"]) if (n.getAttribute(a)) seen.push(n.getAttribute(a));
  }
  return seen.join("\\n");
}"""
# What may be Latin in a Chinese page: the brand, the send/emoji glyphs' names never are.
ALLOWED = {"GoFly"}


def english_words(page: Any) -> list[str]:
    text = page.evaluate(PAGE_WORDS)
    return [w for w in re.findall(r"[A-Za-z]{2,}", text) if w not in ALLOWED]


def assert_chinese(page: Any, state: str) -> None:
    words = english_words(page)
    assert not words, f"English left on the Chinese page ({state}): {words}"


@pytest.mark.django_db(transaction=True)
def test_in_chinese_no_english_is_left_on_the_visitor_page_in_any_state(
    browser: Any, server: str, enterprise: Any, agent: Any
) -> None:
    enterprise.name, enterprise.offline_text = "蓝鲸商城", "客服不在线。"
    enterprise.save()
    WelcomeText.objects.filter(enterprise=enterprise).update(content="您好，欢迎光临！")
    User.objects.filter(pk=agent.pk).update(nickname="小美")
    product = {"title": "蓝色水壶", "price": "¥99", "url": "https://shop.example.com/k"}
    extra = base64.b64encode(json.dumps({"visitorProduct": product}).encode()).decode()
    # The browser asks for English: the link's lang wins.
    context = browser.new_context(locale="en-US", viewport={"width": 420, "height": 760})
    page = context.new_page()
    page.goto(f"{server}/chatIndex?kefu_id={agent.username}&ent_id={enterprise.pk}&lang=zh-cn&extra={quote(extra)}")
    visitor_id_of(page)
    page.wait_for_function("() => GoFlyVisitor.socket.status === 'open'")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page.locator("#leave-form")).to_be_visible()
    expect(page.locator("#product-pin")).to_be_visible()
    assert_chinese(page, "offline, with the leave-a-message form and a pinned product")
    shot(page, "visitor-zh-offline")

    # The server's refusal is in the page's language too, not the browser's.
    page.fill("#leave-contact", "not a phone")
    page.fill("#leave-content", "请回电")
    page.click("#leave-submit")
    expect(page.locator("#leave-error")).to_be_visible()
    assert_chinese(page, "the leave-a-message refusal")

    page.locator("#composer-emoji").click()
    expect(page.locator(".emoji-panel")).to_be_visible()
    assert_chinese(page, "the emoji panel")
    page.keyboard.press("Escape")

    page.locator("#product-send").click()
    send(page, "你好，在吗？")
    expect(page.locator(".msg--out").last).to_have_attribute("data-state", re.compile("sent|read"))
    expect(page.locator("#end-chat")).to_be_visible()
    assert_chinese(page, "messages sent, waiting in the queue")
    page.locator("#end-chat").click()
    expect(page.locator("#end-confirm")).to_be_visible()
    assert_chinese(page, "the End chat? dialog")
    page.locator("#end-ok").click()
    expect(page.locator("#ended-notice")).to_be_visible()
    assert_chinese(page, "the conversation ended")

    page.evaluate("GoFlyVisitor.socket.opts.onUnauthenticated()")
    expect(page.locator("#session-expired")).to_be_visible()
    assert_chinese(page, "the session expired")
    shot(page, "visitor-zh-expired")
    context.close()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("lang", "browser_locale", "expected"),
    [
        ("zh-cn", "en-US", "zh-hans"),
        ("cn", "en-US", "zh-hans"),
        ("zh-hans", "en-US", "zh-hans"),
        ("en", "zh-CN", "en"),
        ("", "en-US", "en"),
        ("", "zh-CN", "zh-hans"),
        ("xx", "en-US", "en"),
    ],
)
def test_the_links_lang_wins_over_the_browsers_and_the_browsers_is_the_default(
    browser: Any, server: str, enterprise: Any, lang: str, browser_locale: str, expected: str
) -> None:
    page = browser.new_context(locale=browser_locale).new_page()
    page.goto(f"{server}/chatIndex?ent_id={enterprise.pk}&lang={lang}")
    expect(page.locator("html")).to_have_attribute("lang", expected)
    send_label = "发送" if expected == "zh-hans" else "Send"
    expect(page.locator(".composer__send-label")).to_have_text(send_label)
    visitor_id_of(page)
    # The server named the new visitor in the page's language too.
    name = page.evaluate("GoFlyVisitor.state.visitor.name")
    assert name.startswith("访客 " if expected == "zh-hans" else "Guest ")
