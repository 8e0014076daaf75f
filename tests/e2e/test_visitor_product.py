"""Browser test of the product a visitor looks at (the manual's GOFLY_EXTRA.visitorProduct): pinned above the
composer, sent as a product card with one click, not pinned again; the agent sees it as a card in the thread
and in the visitor's details."""

from __future__ import annotations

import base64
import json
import re
from typing import Any
from urllib.parse import quote

import pytest

from chat.models import Message, Visitor
from tests.e2e import test_browser as base
from tests.e2e.test_console_desk import open_console

pytestmark = base.pytestmark
expect = base.expect

shot = base.shot
visitor_id_of = base.visitor_id_of


def chat_link(server: str, enterprise: Any, agent: Any, product: Any, lang: str = "en") -> str:
    extra = base64.b64encode(json.dumps({"visitorProduct": product, "plan": "gold"}).encode()).decode()
    return (
        f"{server}/chatIndex?kefu_id={agent.username}&ent_id={enterprise.pk}&lang={lang}&extra={quote(extra)}"
        "&landing_page=" + quote("https://shop.example.com/items/9")
    )


@pytest.mark.django_db(transaction=True)
def test_the_product_the_visitor_looks_at_is_pinned_sent_in_one_click_and_shown_to_the_agent_as_a_card(
    browser: Any, server: str, enterprise: Any, agent: Any
) -> None:
    product = {"title": "Blue kettle", "price": "¥99", "img": f"{server}/static/img/logo.svg", "url": "kettle.html"}
    page = browser.new_context(locale="en-US", viewport={"width": 420, "height": 760}).new_page()
    page.goto(chat_link(server, enterprise, agent, product))
    visitor_id = visitor_id_of(page)
    pin = page.locator("#product-pin")
    expect(pin).to_be_visible()
    expect(pin).to_contain_text("The product you are looking at")
    expect(pin.locator(".product-card__title")).to_have_text("Blue kettle")
    expect(pin.locator(".product-card__price")).to_have_text("¥99")
    # The page's relative link is the shop's, resolved by the server against the page the visitor is on.
    expect(pin.locator("a.product-card")).to_have_attribute("href", "https://shop.example.com/items/kettle.html")
    expect(page.locator("#product-send")).to_have_text("Send")
    shot(page, "visitor-product-pinned")

    page.locator("#product-send").click()
    expect(pin).to_be_hidden()
    sent = page.locator(".msg--out").last
    expect(sent.locator(".product-card__title")).to_have_text("Blue kettle")
    expect(sent).to_have_attribute("data-state", re.compile("sent|read"))
    stored = Message.objects.get(visitor__visitor_id=visitor_id)
    assert stored.content.startswith("product[") and json.loads(stored.content[8:-1]) == {
        **product,
        "url": "https://shop.example.com/items/kettle.html",
    }
    # Sent once: a reload of the same page does not pin it again.
    page.reload()
    visitor_id_of(page)
    expect(page.locator(".msg--out .product-card")).to_have_count(1)
    expect(pin).to_be_hidden()

    # The agent: the card in the thread, and in the visitor's details (not JSON in the extra list).
    ctx, console = open_console(browser, server, agent.username, locale="en-US")
    base.open_row(console, visitor_id)
    expect(console.locator("#messages .msg--in .product-card__title")).to_have_text("Blue kettle")
    info = console.locator("#info-body")
    card = info.locator(".info-product .product-card")
    expect(card.locator(".product-card__title")).to_have_text("Blue kettle")
    expect(card).to_have_attribute("href", "https://shop.example.com/items/kettle.html")
    expect(info).to_contain_text("Product being viewed")
    expect(info).to_contain_text("plan")  # the rest of extra is still listed
    expect(info).not_to_contain_text("visitorProduct")
    expect(info).not_to_contain_text('{"title"')
    shot(console, "console-visitor-product")
    ctx.close()


@pytest.mark.django_db(transaction=True)
def test_a_product_that_is_not_one_is_not_pinned_and_the_chat_works_and_dismissing_one_keeps_it_away(
    browser: Any, server: str, enterprise: Any, agent: Any
) -> None:
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    page.goto(chat_link(server, enterprise, agent, {"title": "Trap", "url": "javascript:alert(1)"}, lang="zh-cn"))
    visitor_id = visitor_id_of(page)
    page.wait_for_function("() => GoFlyVisitor.socket.status === 'open'")
    expect(page.locator("#product-pin")).to_be_hidden()
    assert Visitor.objects.get(visitor_id=visitor_id).extra == {"plan": "gold"}
    base.send(page, "你好")
    expect(page.locator(".msg--out").last).to_have_attribute("data-state", re.compile("sent|read"))

    # A good product, in Chinese: 发送商品; dismissed, it stays away on the next visit.
    page.goto(chat_link(server, enterprise, agent, {"title": "蓝色水壶", "price": 99}, lang="zh-cn"))
    expect(page.locator("#product-pin")).to_be_visible()
    expect(page.locator("#product-send")).to_have_text("发送商品")
    expect(page.locator("#product-pin .product-card__price")).to_have_text("99")
    page.locator("#product-dismiss").click()
    expect(page.locator("#product-pin")).to_be_hidden()
    page.reload()
    visitor_id_of(page)
    page.wait_for_function("() => GoFlyVisitor.socket.status === 'open'")
    expect(page.locator("#product-pin")).to_be_hidden()
    assert not Message.objects.filter(visitor__visitor_id=visitor_id, content__startswith="product[").exists()
    context.close()
