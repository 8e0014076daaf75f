"""Browser test of the console's workspace: an admin tags a visitor and finds them by the tag, gives them
a remark name the list shows, and writes an internal note that the visitor's page never shows (neither
in its DOM nor in its HTTP history)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from accounts.permissions import ROLE_ENTERPRISE_ADMIN
from accounts.services import agent_create
from chat.models import Message, Tag, Visitor
from tests.conftest import AGENT_PASSWORD
from tests.e2e import test_browser
from tests.e2e.test_browser import expect, log_in, open_row, row, send, shot, visitor_id_of

pytestmark = test_browser.pytestmark


def _visitor_page(chromium: Any, base: str, enterprise: Any, text: str) -> tuple[Any, Any, str]:
    ctx = chromium.new_context(viewport={"width": 1100, "height": 760})
    page = ctx.new_page()
    page.goto(f"{base}/chatIndex?ent_id={enterprise.pk}")
    visitor_id = visitor_id_of(page)
    page.wait_for_function("() => GoFlyVisitor.socket.status === 'open'")
    send(page, text)
    expect(page.locator(".msg--out").last).to_have_attribute("data-state", re.compile("sent|read"))
    return ctx, page, visitor_id


@pytest.mark.django_db(transaction=True)
def test_an_agent_tags_finds_renames_and_notes_a_visitor_who_never_sees_the_note(
    browser: Any,
    server: str,
    enterprise: Any,
    agent: Any,
) -> None:
    agent_create(
        enterprise=enterprise, username="boss", password=AGENT_PASSWORD, nickname="Boss", role=ROLE_ENTERPRISE_ADMIN
    )
    visitor_ctx, visitor, vid = _visitor_page(browser, server, enterprise, "I want to buy 300 units")
    _other_ctx, _other, other_vid = _visitor_page(browser, server, enterprise, "just looking")

    ctx = browser.new_context(viewport={"width": 1440, "height": 900})
    console = ctx.new_page()
    log_in(console, server, "boss", AGENT_PASSWORD)
    console.wait_for_url(re.compile(r"/console$"))
    expect(console.locator("#conn-status")).to_have_attribute("data-state", "open")
    console.locator('[data-tab="online"]').click()
    expect(row(console, vid)).to_be_visible()
    expect(row(console, other_vid)).to_be_visible()
    open_row(console, vid)

    # A tag, created from the details panel (pick or create), shown as a chip.
    tag_input = console.locator("#tag-add-input")
    tag_input.fill("Wholesale")
    tag_input.press("Enter")
    expect(console.locator("#visitor-tags .tag-chip")).to_have_text(re.compile("Wholesale"))
    tag = Tag.objects.get(enterprise=enterprise, name="Wholesale")
    assert Visitor.objects.get(visitor_id=vid).visitor_tags.filter(tag=tag).exists()

    # Found by the tag: the filter keeps this visitor and drops the other.
    console.locator("#tag-filter").select_option(str(tag.pk))
    expect(row(console, other_vid)).to_have_count(0)
    expect(row(console, vid)).to_be_visible()
    console.locator("#tag-filter").select_option("")
    expect(row(console, other_vid)).to_be_visible()
    # And by the search box, through the server (the tag's name is nowhere in the visitor's own fields).
    console.locator("#visitor-search").fill("wholes")
    expect(row(console, other_vid)).to_have_count(0)
    expect(row(console, vid)).to_be_visible()
    console.locator("#visitor-search").fill("")
    expect(row(console, other_vid)).to_be_visible()

    # A remark name: Enter saves, and the list and the header show it first.
    console.locator("#remark-edit").click()
    console.locator("#remark-input").fill("Mr Big Buyer")
    console.locator("#remark-input").press("Enter")
    expect(row(console, vid).locator(".vrow__name")).to_have_text("Mr Big Buyer")
    expect(console.locator("#chat-name")).to_have_text("Mr Big Buyer")
    # Esc cancels an edit.
    console.locator("#remark-edit").click()
    console.locator("#remark-input").fill("Nobody")
    console.locator("#remark-input").press("Escape")
    expect(console.locator("#remark-value")).to_have_text("Mr Big Buyer")
    assert Visitor.objects.get(visitor_id=vid).real_name == "Mr Big Buyer"

    # An internal note: in note mode, shown as a yellow note bubble to the agent.
    console.locator("#composer-note").click()
    send(console, "Secret: give them 20% off")
    note = console.locator("#messages .msg--note")
    expect(note).to_have_count(1)
    expect(note).to_have_attribute("data-state", re.compile("sent|read"))
    expect(note.locator(".msg__name")).to_have_text(re.compile("Internal note"))
    console.locator("#composer-note").click()
    send(console, "Hello, how can I help?")
    shot(console, "workspace-console")

    # The visitor gets the reply, never the note: live, in the page's DOM...
    expect(visitor.locator("#messages")).to_contain_text("Hello, how can I help?")
    assert "20% off" not in visitor.locator("body").inner_text()
    # ...nor after a reload (sync and the HTTP history), nor in the history the page can ask for.
    visitor.reload()
    visitor.wait_for_function("() => GoFlyVisitor.socket.status === 'open'")
    expect(visitor.locator("#messages")).to_contain_text("Hello, how can I help?")
    assert "20% off" not in visitor.locator("body").inner_text()
    history = visitor.evaluate(
        """() => fetch('/api/v1/visitor/messages?limit=100',
                       {headers: {Authorization: 'Visitor ' + GoFlyVisitor.state.token}}).then(r => r.json())"""
    )
    contents = [m["content"] for m in history["messages"]]
    assert "Hello, how can I help?" in contents and not any("20% off" in c for c in contents)
    assert Message.objects.filter(sender="note", content__contains="20% off").count() == 1
    shot(visitor, "workspace-visitor")
    visitor_ctx.close()
    ctx.close()
