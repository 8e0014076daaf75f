"""Browser tests of the console's routing settings: an enterprise admin sets the enterprise's default limit
and inactivity time, and a colleague's own limit; a plain agent is offered neither."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import User
from accounts.permissions import ROLE_ENTERPRISE_ADMIN
from accounts.services import agent_create
from enterprises.models import Enterprise
from tests.conftest import AGENT_PASSWORD
from tests.e2e import test_browser
from tests.e2e.test_browser import PHONE, expect, shot
from tests.e2e.test_console_desk import open_console, team_member

pytestmark = test_browser.pytestmark


@pytest.mark.django_db(transaction=True)
def test_an_enterprise_admin_sets_the_default_limit_and_a_colleagues_limit(
    browser: Any,
    server: str,
    enterprise: Enterprise,
    agent: User,
) -> None:
    admin = agent_create(
        enterprise=enterprise,
        username="boss",
        password=AGENT_PASSWORD,
        nickname="Carol",
        role=ROLE_ENTERPRISE_ADMIN,
    )
    contexts = []
    ctx, console = open_console(browser, server, admin.username)
    contexts.append(ctx)
    console.locator("#me-toggle").click()
    alice = team_member(console, agent)
    expect(alice).to_be_visible()
    default = Enterprise.objects.get(pk=enterprise.pk).max_conversations_per_agent

    # --- the routing settings: loaded by GET, a bad value refused with the server's message, then saved ---
    console.locator("#settings-open").click()
    dialog = console.locator("#settings-dialog")
    expect(dialog).to_be_visible()
    expect(console.locator("#me-panel")).to_be_hidden()
    expect(console.locator("#settings-limit")).to_have_value(str(default))
    console.evaluate("document.getElementById('settings-limit').removeAttribute('max')")
    console.evaluate("document.getElementById('settings-autoclose').removeAttribute('max')")
    console.locator("#settings-autoclose").fill("99999")
    console.locator("#settings-submit").click()
    expect(console.locator("#settings-error")).to_contain_text("Inactivity time")
    expect(dialog).to_be_visible()
    console.locator("#settings-limit").fill("4")
    console.locator("#settings-autoclose").fill("45")
    console.locator("#settings-submit").click()
    expect(dialog).to_be_hidden()
    expect(console.locator("#toast")).to_have_text("Routing settings saved.")
    saved = Enterprise.objects.get(pk=enterprise.pk)
    assert (saved.max_conversations_per_agent, saved.auto_close_minutes) == (4, 45)
    # Alice has no limit of her own: her row follows the new default.
    console.locator("#me-toggle").click()
    expect(alice.locator(".team__load")).to_have_text("0 of 4 open")

    # --- Alice's own limit, in the team list; empty again: the enterprise's -------------------------
    alice.locator(".team__edit").click()
    expect(console.locator("#me-panel")).to_be_visible()
    limit = alice.locator(".team__limit-input")
    expect(limit).to_be_focused()
    limit.fill("2")
    limit.press("Enter")
    expect(alice.locator(".team__load")).to_have_text("0 of 2 open")
    expect(alice.locator(".team__limit")).to_have_count(0)
    assert User.objects.get(pk=agent.pk).max_conversations == 2
    shot(console, "settings-team-limit")
    alice.locator(".team__edit").click()
    alice.locator(".team__limit-input").fill("")
    alice.locator(".team__limit button[type=submit]").click()
    expect(alice.locator(".team__load")).to_have_text("0 of 4 open")
    assert User.objects.get(pk=agent.pk).max_conversations is None
    alice.locator(".team__edit").click()
    alice.locator(".team__limit-input").fill("3")
    alice.locator(".team__limit-input").press("Enter")
    expect(alice.locator(".team__load")).to_have_text("0 of 3 open")
    assert User.objects.get(pk=agent.pk).max_conversations == 3

    # --- in Chinese on a phone, the settings are a bottom sheet ------------------------------------
    phone_ctx, phone = open_console(browser, server, admin.username, locale="zh-CN", **PHONE)
    contexts.append(phone_ctx)
    phone.locator("#me-toggle").click()
    phone.locator("#settings-open").click()
    sheet = phone.locator("#settings-dialog")
    expect(sheet).to_be_visible()
    expect(phone.locator("#settings-title")).to_have_text("分配设置")
    expect(phone.locator("#settings-limit")).to_have_value("4")
    box = sheet.bounding_box()
    assert box is not None and box["width"] <= 390 and box["y"] + box["height"] <= 844 + 1, box
    shot(phone, "settings-phone")
    phone.locator("#settings-cancel").click()
    expect(sheet).to_be_hidden()

    for context in contexts:
        context.close()


@pytest.mark.django_db(transaction=True)
def test_a_plain_agent_is_offered_neither_setting(
    browser: Any,
    server: str,
    enterprise: Enterprise,
    agent: User,
) -> None:
    colleague = agent_create(enterprise=enterprise, username="kefu3", password=AGENT_PASSWORD, nickname="Bob")
    ctx, console = open_console(browser, server, agent.username)
    console.locator("#me-toggle").click()
    expect(team_member(console, colleague)).to_be_visible()
    expect(console.locator("#settings-open")).to_be_hidden()
    expect(console.locator("#me-panel .team__edit")).to_have_count(0)
    expect(console.locator("#me-panel .team__limit")).to_have_count(0)
    ctx.close()
