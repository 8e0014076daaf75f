"""Browser test: a superadmin publishes an announcement in /admin and it appears live on the open consoles,
in Chinese and in English, with an unread mark that goes once the agent has looked."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import User
from accounts.services import agent_create, superadmin_create
from enterprises.models import Enterprise
from tests.conftest import AGENT_PASSWORD
from tests.e2e import test_browser
from tests.e2e.test_browser import expect
from tests.e2e.test_console_desk import open_console

pytestmark = test_browser.pytestmark


@pytest.mark.django_db(transaction=True)
def test_an_announcement_appears_live_on_open_consoles_in_chinese_and_english(
    browser: Any, server: str, enterprise: Enterprise, agent: User
) -> None:
    agent_create(enterprise=enterprise, username="kefu3", password=AGENT_PASSWORD, nickname="Bob")
    superadmin_create(username="root", password=AGENT_PASSWORD)
    zh_ctx, zh = open_console(browser, server, agent.username, locale="zh-CN")
    en_ctx, en = open_console(browser, server, "kefu3", locale="en-US")
    for console in (zh, en):
        expect(console.locator("#announce-unread")).to_be_hidden()
    expect(zh.locator("#announce-toggle")).to_have_attribute("title", "公告")
    expect(en.locator("#announce-toggle")).to_have_attribute("title", "Announcements")

    admin = browser.new_context(locale="en-US").new_page()
    admin.goto(f"{server}/admin/login/?next=/admin/notices/announcement/add/")
    admin.fill("#id_username", "root")
    admin.fill("#id_password", AGENT_PASSWORD)
    admin.click("input[type=submit], button[type=submit]")
    admin.fill("#id_title", "系统维护 Maintenance")
    admin.fill("#id_content", "<p>Tonight from <b>23:00</b>.</p><script>alert(1)</script>")
    admin.click("input[name=_save]")
    expect(admin.locator(".messagelist")).to_be_visible()

    for console, title in ((zh, "公告（1 条未读）"), (en, "Announcements (1 unread)")):
        expect(console.locator("#announce-unread")).to_have_text("1")
        expect(console.locator("#announce-toggle")).to_have_attribute("title", title)
        console.locator("#announce-toggle").click()
        item = console.locator("#announce-list .announce").first
        expect(item.locator(".announce__title")).to_have_text("系统维护 Maintenance")
        expect(item.locator(".announce__body b")).to_have_text("23:00")
        expect(console.locator("#announce-unread")).to_be_hidden()
        assert console.locator("#announce-list script").count() == 0
    # Read on the server too: a reload shows no unread mark.
    zh.reload()
    expect(zh.locator("#conn-status")).to_have_attribute("data-state", "open")
    expect(zh.locator("#announce-unread")).to_be_hidden()
    for ctx in (zh_ctx, en_ctx):
        ctx.close()
