"""What the visitor's thread looks like: a product card readable in their own bubble, the welcome under
the day's divider; and the read state the agent sees."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from chat.models import Message
from tests.conftest import AGENT_PASSWORD
from tests.e2e import test_browser as base

pytestmark = base.pytestmark
expect = base.expect

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
    # Stored first: the bubble is rebuilt when its state changes, and a node being replaced has no style.
    expect(page.locator(".msg--out").last).to_have_attribute("data-state", re.compile("sent|read"))
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


@pytest.mark.django_db(transaction=True)
def test_the_agent_sees_when_the_visitor_has_read_their_message(
    browser: Any, server: str, enterprise: Any, agent: Any
) -> None:
    visitor_page = browser.new_context(locale="en-US").new_page()
    visitor_page.goto(f"{server}/chatIndex?kefu_id={agent.username}&ent_id={enterprise.pk}&lang=en")
    visitor_id = visitor_id_of(visitor_page)
    send(visitor_page, "Is it in stock?")
    expect(visitor_page.locator(".msg--out").last).to_have_attribute("data-state", re.compile("sent|read"))
    console = browser.new_context(locale="en-US").new_page()
    base.log_in(console, server, agent.username, AGENT_PASSWORD)
    base.open_row(console, visitor_id)
    console.locator("#composer-input").fill("Yes, two left.")
    console.locator("#composer-input").press("Enter")
    # The visitor's page shows it, in view: it reports it read, and the agent's bubble says so.
    expect(visitor_page.locator(".msg--in .bubble", has_text="Yes, two left.")).to_be_visible()
    reply = console.locator(".msg--out", has_text="Yes, two left.")
    expect(reply).to_have_attribute("data-state", "read")
    message = Message.objects.get(content="Yes, two left.")
    assert message.read_at is not None
    shot(console, "console-read-by-visitor")
