"""Browser tests of the visitor page's and the widget's fixes: one title bar in the widget's panel, the visit's
referrer and landing page reported by the widget, and errors worded by their code in the page's language."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest

from chat.models import Message, Visitor
from tests.e2e import test_browser as base
from tests.e2e import test_widget as widget
from tests.e2e.test_visitor_conversation import AgentAPI

pytestmark = base.pytestmark
expect = base.expect

host_site = widget.host_site
PHONE = base.PHONE
shot = base.shot
send = base.send
visitor_id_of = base.visitor_id_of


@pytest.mark.django_db(transaction=True)
def test_the_widgets_panel_on_a_phone_has_one_title_bar_the_chat_pages_with_the_close_button_over_it(
    browser: Any, server: str, enterprise: Any, agent: Any, host_site: Callable[..., str]
) -> None:
    context = browser.new_context(**PHONE)
    page = context.new_page()
    page.goto(host_site("phone.html", body=widget.snippet(server, enterprise.pk, agent.username)))
    page.locator("gofly-widget .gfw-b").click()
    panel = page.locator("gofly-widget .gfw-p")
    expect(panel).to_be_visible()
    chat = page.frame_locator("gofly-widget iframe")
    send(chat, "Hello?")
    end_chat = chat.locator("#end-chat")
    expect(end_chat).to_be_visible()

    # The chat page fills the panel: no bar of the widget above it repeats the agent.
    box = panel.bounding_box()
    assert page.locator("gofly-widget iframe").bounding_box() == box
    assert box["height"] == 844
    header = chat.locator(".vchat__header").bounding_box()
    assert header["y"] == box["y"] and header["height"] < 80
    title = page.locator("gofly-widget .gfw-t").bounding_box()
    assert title["width"] <= 1 and title["height"] <= 1  # the dialog's name, for screen readers only

    # The widget's close button lies over the header's right end, where the page keeps room for it.
    close = page.locator("gofly-widget .gfw-x")
    spot = close.bounding_box()
    assert header["y"] <= spot["y"] and spot["y"] + spot["height"] <= header["y"] + header["height"]
    assert spot["x"] + spot["width"] <= box["x"] + box["width"]
    end = end_chat.bounding_box()
    assert end["x"] + end["width"] <= spot["x"]
    shot(page, "widget-phone-one-bar")
    close.click()
    expect(panel).to_be_hidden()
    context.close()


@pytest.mark.django_db(transaction=True)
def test_the_widget_reports_the_visits_search_referrer_and_first_page_not_the_page_the_chat_opens_on(
    browser: Any, server: str, enterprise: Any, agent: Any, host_site: Callable[..., str]
) -> None:
    snippet = widget.snippet(server, enterprise.pk, agent.username)
    first = host_site("p1.html", body=snippet + '\n<a id="next" href="p2.html">Next</a>')
    host_site("p2.html", body=snippet + '\n<a id="next" href="p3.html">Next</a>')
    third = host_site("p3.html", body=snippet)
    search = "https://www.baidu.com/s?wd=" + quote("在线客服 系统") + "&ie=utf-8"

    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(first, referer=search)  # from a Baidu search to the site's first page
    assert page.evaluate("document.referrer") == search
    page.locator("#next").click()
    page.wait_for_url("**/p2.html")
    page.locator("#next").click()
    page.wait_for_url("**/p3.html")
    assert page.evaluate("document.referrer") != search

    page.locator("gofly-widget .gfw-b").click()
    chat = page.frame_locator("gofly-widget iframe")
    send(chat, "Do you ship abroad?")
    message = widget.wait_for(lambda: Message.objects.filter(content="Do you ship abroad?").first())
    assert message is not None
    visitor = Visitor.objects.get(pk=message.visitor_id)

    # What the console shows of the visitor: the search words, where they came from and landed.
    alice = AgentAPI(server, agent.username)
    try:
        shown = alice.http.get(f"/api/v1/agent/visitors/{visitor.visitor_id}").json()
    finally:
        alice.close()
    details = shown.get("visitor", shown)
    assert details["landing_page"] == first
    assert details["referrer"] == search
    assert details["search_words"] == "在线客服 系统"
    assert page.url == third
    context.close()


@pytest.mark.django_db(transaction=True)
def test_an_english_page_words_the_servers_refusals_by_their_code_in_english_a_live_block_too(
    browser: Any, server: str, enterprise: Any, agent: Any
) -> None:
    # The browser asks for Chinese and the server speaks Chinese on websockets; the link says English.
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    page.goto(f"{server}/chatIndex?kefu_id={agent.username}&ent_id={enterprise.pk}&lang=en")
    visitor_id = visitor_id_of(page)
    page.wait_for_function("() => GoFlyVisitor.socket.status === 'open'")

    # The composer itself refuses a message over the limit: the box says so and nothing is sent.
    box = page.locator("#composer-input")
    box.fill("y" * 5001)
    box.press("Enter")
    assert page.evaluate("document.querySelector('#composer-input').validationMessage") == "Message is too long."
    assert box.input_value() == "y" * 5001
    expect(page.locator(".msg--out")).to_have_count(0)
    box.fill("")

    # A message the socket refuses (too_large): "Not delivered" says why, in English.
    page.evaluate("GoFlyVisitor.send('x'.repeat(6000))")
    failed = page.locator('.msg--out[data-state="failed"] .msg__status')
    expect(failed).to_contain_text("Not delivered · Message is too long.")

    # An agent blocks the visitor: the open socket is closed with `blacklisted`, said in English at once.
    alice = AgentAPI(server, agent.username)
    try:
        alice.post("/api/v1/agent/blacklist", {"visitor_id": visitor_id, "reason": "spam"})
    finally:
        alice.close()
    expect(page.locator("#fatal-text")).to_have_text("You cannot chat here.")
    expect(page.locator("#composer-input")).to_be_disabled()
    shot(page, "visitor-blocked-en")

    # And after a reload (refused at login, over HTTP), the same words.
    page.reload()
    expect(page.locator("#fatal-text")).to_have_text("You cannot chat here.")
    context.close()
