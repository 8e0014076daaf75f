"""Browser test: an agent blocks the visitor from the console; the visitor's page says it cannot chat; the
details show the block and the Blacklist screen lifts it."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.e2e import test_browser
from tests.e2e.test_browser import expect, open_row, shot, visitor_id_of
from tests.e2e.test_console_desk import open_console

pytestmark = test_browser.pytestmark


@pytest.mark.django_db(transaction=True)
def test_an_agent_blocks_the_visitor_from_the_console_and_the_visitor_is_told_at_once(
    browser: Any,
    server: str,
    enterprise: Any,
    agent: Any,
) -> None:
    visitor_ctx = browser.new_context(locale="en-US")
    visitor = visitor_ctx.new_page()
    visitor.goto(f"{server}/chatIndex?kefu_id={agent.username}&ent_id={enterprise.pk}")
    vid = visitor_id_of(visitor)

    _ctx, console = open_console(browser, server, agent.username)
    open_row(console, vid)
    console.locator("#act-block").click()
    console.fill("#block-reason", "spam links")
    console.select_option("#block-until", "7d")
    console.locator("#block-submit").click()

    # Said by the server's socket, in the server's language.
    expect(visitor.locator("#fatal-text")).to_have_text(re.compile("You cannot chat here.|您无法在此咨询。"))
    expect(visitor.locator("#composer-input")).to_be_disabled()
    shot(visitor, "visitor-blocked")
    expect(console.locator("#info-blocked")).to_contain_text("spam links")
    expect(console.locator("#info-unblock")).to_be_visible()

    console.locator("#me-toggle").click()
    console.locator("#blacklist-open").click()
    entry = console.locator(f'#blacklist-rows tr[data-kind="visitor"][data-id="{vid}"]')
    expect(entry).to_contain_text("spam links")
    expect(entry).to_contain_text(agent.username)
    shot(console, "console-blacklist")
    entry.get_by_role("button").click()
    expect(console.locator("#blacklist-empty")).to_be_visible()
    console.locator("#blacklist-close").click()

    visitor.reload()
    expect(visitor.locator("#fatal")).to_be_hidden()
    visitor_id_of(visitor)
