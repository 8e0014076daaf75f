"""Browser tests of the management area: an enterprise admin adds a colleague from the console's menu, who
logs in at once and chats with a visitor; the deploy page's snippet works on a site its origins allow."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from accounts.models import User
from accounts.permissions import ROLE_ENTERPRISE_ADMIN
from accounts.services import agent_create
from enterprises.models import AuditAction, AuditEntry, Enterprise
from tests.conftest import AGENT_PASSWORD
from tests.e2e import test_browser
from tests.e2e import test_widget as widget
from tests.e2e.test_browser import expect, log_in, row, send, visitor_id_of
from tests.e2e.test_console_desk import open_console

pytestmark = test_browser.pytestmark
host_site = widget.host_site  # the fixture: a site on another origin

NEW_PASSWORD = "Dana-Pass-2034"


@pytest.mark.django_db(transaction=True)
def test_an_admin_adds_an_agent_from_the_console_who_then_logs_in_and_chats(
    browser: Any, server: str, enterprise: Enterprise, agent: User
) -> None:
    agent_create(enterprise=enterprise, username="boss", password=AGENT_PASSWORD, role=ROLE_ENTERPRISE_ADMIN)
    ctx, console = open_console(browser, server, "boss", locale="en-US")
    console.locator("#me-toggle").click()
    console.locator("#manage-open").click()
    console.wait_for_url(re.compile(r"/manage/$"))
    expect(console.locator("#site-name")).to_contain_text("GoFly management")
    console.goto(f"{server}/manage/accounts/user/add/")
    console.fill("#id_username", "dana")
    console.fill("#id_nickname", "Dana")
    console.select_option("#id_role", "agent")
    console.fill("#id_password1", NEW_PASSWORD)
    console.fill("#id_password2", NEW_PASSWORD)
    console.click("input[name=_save]")
    expect(console.locator(".messagelist")).to_be_visible()
    expect(console.locator("#result_list")).to_contain_text("dana")
    assert AuditEntry.objects.filter(action=AuditAction.AGENT_CREATED, target_name="Dana").exists()

    # Dana logs in at once, and a visitor who asks for her reaches her.
    dana_ctx = browser.new_context(viewport={"width": 1440, "height": 900}, locale="en-US")
    dana = dana_ctx.new_page()
    log_in(dana, server, "dana", NEW_PASSWORD)
    dana.wait_for_url(re.compile(r"/console$"))
    expect(dana.locator("#conn-status")).to_have_attribute("data-state", "open")
    expect(dana.locator("#agent-name")).to_have_text("Dana")
    visitor_ctx = browser.new_context(locale="en-US")
    visitor = visitor_ctx.new_page()
    visitor.goto(f"{server}/chatIndex?kefu_id=dana&ent_id={enterprise.pk}")
    expect(visitor.locator("#agent-name")).to_have_text("Dana")
    who = visitor_id_of(visitor)
    send(visitor, "Hello Dana")
    expect(row(dana, who)).to_be_visible()
    expect(row(dana, who).locator(".vrow__preview")).to_have_text("Hello Dana")
    for context in (ctx, dana_ctx, visitor_ctx):
        context.close()


@pytest.mark.django_db(transaction=True)
def test_the_deploy_pages_snippet_works_on_the_site_its_origins_allow(
    browser: Any, server: str, enterprise: Enterprise, agent: User, host_site: Callable[..., str]
) -> None:
    agent_create(enterprise=enterprise, username="boss", password=AGENT_PASSWORD, role=ROLE_ENTERPRISE_ADMIN)
    ctx, console = open_console(browser, server, "boss", locale="en-US")
    console.goto(f"{server}/manage/deploy/?kefu={agent.username}")
    snippet = console.locator("#deploy-snippet").inner_text()
    assert f'"GOFLY_KEFU_ID": "{agent.username}"' in snippet
    shop = host_site("shop.html", body=snippet)
    origin = shop.rsplit("/", 1)[0]
    console.fill("#id_allowed_origins", origin)
    console.click("input[value=Save]")
    expect(console.locator(".messagelist")).to_contain_text("Allowed origins saved.")
    assert Enterprise.objects.get(pk=enterprise.pk).allowed_origins == origin

    visitor_ctx = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    page = visitor_ctx.new_page()
    page.goto(shop)
    launcher = page.locator("gofly-widget .gfw-b")
    expect(launcher.locator(".gfw-lt")).to_have_text("Chat with us")
    launcher.click()
    expect(page.frame_locator("gofly-widget iframe").locator("#agent-name")).to_have_text("Alice")
    for context in (ctx, visitor_ctx):
        context.close()
