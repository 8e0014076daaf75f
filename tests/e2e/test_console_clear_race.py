"""Clearing a visitor's history while the console still waits for answers about them (their details, a page
of their thread) that the server read before the clear: those answers must not bring the history back."""

from __future__ import annotations

import re
from typing import Any

import pytest

from accounts.models import User
from accounts.services import agent_create
from tests.conftest import AGENT_PASSWORD
from tests.e2e import test_browser
from tests.e2e.test_browser import expect
from tests.e2e.test_console_desk import conversation_row, count, open_console, open_visitor, tab

pytestmark = test_browser.pytestmark

SETTLE = "() => new Promise(r => setTimeout(() => requestAnimationFrame(() => requestAnimationFrame(r)), 300))"


@pytest.mark.django_db(transaction=True)
def test_answers_read_before_a_clear_do_not_bring_the_cleared_history_back(
    browser: Any,
    server: str,
    enterprise: Any,
    agent: User,
) -> None:
    # Bob may clear histories; he alone is online, so the visitor is routed to him.
    bob = agent_create(
        enterprise=enterprise, username="kefu3", password=AGENT_PASSWORD, nickname="Bob", role="enterprise_admin"
    )
    ctx, console = open_console(browser, server, bob.username)
    v_ctx, vid = open_visitor(browser, server, enterprise, "Hello, please forget me")
    tab(console, "mine").click()
    conversation_row(console, vid).locator("button").click()
    console.locator("#act-close").click()
    console.locator("#confirm-ok").click()
    expect(console.locator("#convbar .chip")).to_have_text("Closed")
    # A fresh console: the visitor's thread is not loaded yet, so opening the row asks for a page of it.
    console.reload()
    expect(console.locator("#conn-status")).to_have_attribute("data-state", "open")
    tab(console, "closed").click()
    expect(conversation_row(console, vid)).to_be_visible()
    expect(count(console, "closed")).to_have_text("1")

    # The server answers the details and the page now, before the clear; the console gets them after it.
    held: list[tuple[Any, Any]] = []

    def hold(route: Any) -> None:
        if route.request.method != "GET":
            route.continue_()
            return
        held.append((route, route.fetch()))

    console.route(re.compile(rf"/api/v1/agent/visitors/{vid}(/messages\?.*)?$"), hold)
    conversation_row(console, vid).locator("button").click()
    for _ in range(500):
        if len(held) >= 2:
            break
        console.wait_for_timeout(20)
    assert len(held) == 2, [route.request.url for route, _response in held]
    console.locator("#act-clear").click()
    console.locator("#confirm-ok").click()
    expect(conversation_row(console, vid)).to_have_count(0)
    expect(count(console, "closed")).to_have_text("0")

    for route, response in held:
        route.fulfill(response=response)
    console.unroute(re.compile(rf"/api/v1/agent/visitors/{vid}(/messages\?.*)?$"))
    console.evaluate(SETTLE)
    expect(conversation_row(console, vid)).to_have_count(0, timeout=2000)
    expect(console.locator("#messages .msg")).to_have_count(0, timeout=2000)
    expect(count(console, "closed")).to_have_text("0")
    for context in (ctx, v_ctx):
        context.close()
