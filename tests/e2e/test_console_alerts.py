"""Browser test of the console's e-mail alert setting in the status menu."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import User
from notices.models import AgentAlerts
from tests.e2e import test_browser
from tests.e2e.test_browser import expect, shot
from tests.e2e.test_console_desk import open_console

pytestmark = test_browser.pytestmark


@pytest.mark.django_db(transaction=True)
def test_an_agent_turns_e_mail_alerts_on_in_the_status_menu(
    browser: Any,
    server: str,
    agent: User,
) -> None:
    ctx, console = open_console(browser, server, agent.username, locale="en-US")
    try:
        console.locator("#me-toggle").click()
        box = console.locator("#alerts-enabled")
        email = console.locator("#alerts-email")
        expect(box).to_be_visible()
        # The test server has no EMAIL_HOST: the setting says alerts are off for now.
        expect(console.locator("#alerts-hint-off")).to_be_visible()
        # No address yet: turning on is refused with the server's message, and the box unticks again.
        box.check()
        expect(console.locator("#alerts-error")).to_have_text("Enter your e-mail address first.")
        expect(box).not_to_be_checked()
        email.fill("not an address")
        email.press("Enter")
        expect(console.locator("#alerts-error")).to_have_text("Enter a valid e-mail address.")
        email.fill("alice@example.com")
        email.press("Enter")
        expect(console.locator("#alerts-error")).to_be_hidden()
        # The box was ticked before there was an address: the wish went with the address (issue 16).
        expect(box).to_be_checked()
        shot(console, "console-alerts")
        console.wait_for_function(
            "() => fetch('/api/v1/agent/alerts').then(r => r.json()).then(d => window.__alerts = d.email_enabled)",
            polling=100,
        )
        row = AgentAlerts.objects.get(agent=agent)
        assert row.email_enabled and row.language == "en"
        assert User.objects.get(pk=agent.pk).email == "alice@example.com"
        # Reloaded, the console shows what is stored.
        console.reload()
        console.locator("#me-toggle").click()
        expect(console.locator("#alerts-enabled")).to_be_checked()
        expect(console.locator("#alerts-email")).to_have_value("alice@example.com")
    finally:
        ctx.close()
