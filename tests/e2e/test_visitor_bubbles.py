"""What the visitor's thread looks like: a product card readable in their own bubble, and the welcome
under the day's divider."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.e2e import test_browser as base

pytestmark = base.pytestmark
expect = base.expect

browser = base.browser
server = base.server
send = base.send
shot = base.shot
visitor_id_of = base.visitor_id_of

WHITE = "rgb(255, 255, 255)"
CARD = {"title": "Blue kettle", "price": "¥99", "img": "", "url": "https://shop.example.com/kettle"}


@pytest.mark.django_db(transaction=True)
def test_a_product_card_in_the_visitors_own_bubble_is_readable_and_the_welcome_follows_the_day_divider(
    browser: Any, server: str, enterprise: Any, agent: Any
) -> None:
    page = browser.new_context(locale="en-US").new_page()
    page.goto(f"{server}/chatIndex?kefu_id={agent.username}&ent_id={enterprise.pk}&lang=en")
    visitor_id_of(page)
    # Nothing sent yet: today's divider, then the welcome.
    expect(page.locator("#welcome")).to_be_visible()
    order = page.evaluate("[...document.querySelectorAll('.day-divider, #welcome')].map(n => n.id || n.className)")
    assert order == ["day-divider", "welcome"]
    send(page, "product[" + json.dumps(CARD) + "]")
    card = page.locator(".msg--out .product-card")
    expect(card).to_have_attribute("href", CARD["url"])
    title = page.locator(".msg--out .product-card__title")
    expect(title).to_have_text("Blue kettle")
    colours = title.evaluate("t => [getComputedStyle(t).color, getComputedStyle(t.closest('.bubble')).backgroundColor]")
    assert colours[0] != colours[1] and colours[0] != WHITE
    # With a message: still the divider first, then the welcome, then the message.
    order = page.evaluate(
        "[...document.querySelectorAll('.day-divider, #welcome, .msg--out')]"
        ".map(n => n.id || n.className.split(' ')[0])"
    )
    assert order[:3] == ["day-divider", "welcome", "msg"]
    shot(page, "visitor-product-card")
