"""Browser tests of replies: a keyword rule answering a visitor with no agent online, a rich welcome text
written in the console and shown to the visitor (its <script> never run), a canned reply inserted with /."""

from __future__ import annotations

import re
from typing import Any

import pytest

from accounts.models import User
from accounts.permissions import ROLE_ENTERPRISE_ADMIN
from accounts.services import agent_create
from chat.models import Message
from enterprises.models import Enterprise
from replies import services
from replies.models import WelcomeText
from tests.conftest import AGENT_PASSWORD
from tests.e2e import test_browser
from tests.e2e.test_browser import expect, open_row, send, shot, visitor_id_of
from tests.e2e.test_console_desk import open_console

pytestmark = test_browser.pytestmark


@pytest.mark.django_db(transaction=True)
def test_keyword_rule_rich_welcome_and_canned_reply(
    browser: Any,
    server: str,
    enterprise: Enterprise,
    agent: User,
) -> None:
    admin = agent_create(
        enterprise=enterprise, username="boss", password=AGENT_PASSWORD, nickname="Carol", role=ROLE_ENTERPRISE_ADMIN
    )
    # The enterprise's only welcome text will be the one the admin writes below (the fixture seeds one).
    for seeded in WelcomeText.objects.filter(enterprise=enterprise):
        services.welcome_text_delete(agent=admin, welcome_id=seeded.pk)
    services.keyword_rule_create(agent=admin, keyword="价格", reply="Prices are on the shop page.")
    services.canned_reply_create(
        agent=agent, scope="personal", title="Greeting", content="Hi {visitor_name}, this is {agent_name}."
    )
    chat_url = f"{server}/chatIndex?kefu_id={agent.username}&ent_id={enterprise.pk}"

    # --- no agent online: the keyword rule answers the visitor at once, as an automatic agent message ---
    visitor_ctx = browser.new_context()
    phone = visitor_ctx.new_page()
    phone.goto(chat_url)
    first = visitor_id_of(phone)
    expect(phone.locator("#agent-status")).to_have_attribute("data-state", "offline")
    send(phone, "请问价格多少？")
    answer = phone.locator(".msg--in").last
    expect(answer.locator(".bubble")).to_have_text("Prices are on the shop page.")
    expect(answer.locator(".msg__name")).to_have_text(re.compile("Agent|客服"))
    stored = Message.objects.get(visitor__visitor_id=first, sender="agent")
    assert stored.agent is None and (stored.meta or {}).get("auto") == "keyword"
    shot(phone, "replies-keyword-answer")

    # --- the admin writes a welcome text with bold, a link and a script in the console's editor ---------
    admin_ctx, boss = open_console(browser, server, admin.username)
    boss.locator("#me-toggle").click()
    boss.locator("#replies-open").click()
    expect(boss.locator("#replies-dialog")).to_be_visible()
    boss.locator('#replies-tabs [data-screen="welcomes"]').click()
    boss.locator("#welcome-add").click()
    editor = boss.locator("#replies-field-content")
    editor.click()
    boss.keyboard.type("Welcome to Acme")
    boss.keyboard.press("Control+A")
    boss.locator('[data-cmd="bold"]').click()
    editor.evaluate(
        """node => node.insertAdjacentHTML('beforeend',
        ' <a href="https://shop.example.com/">our shop</a><script>window.__pwned = 1</script>'
        + '<img src="x" onerror="window.__pwned = 2"><a href="javascript:window.__pwned = 3">bad</a>')"""
    )
    boss.locator("#replies-form-submit").click()
    expect(boss.locator("#replies-form-dialog")).to_be_hidden()
    expect(boss.locator("#replies-body b")).to_have_text("Welcome to Acme")
    shot(boss, "replies-welcome-screen")
    # The canned replies screen lists the enterprise's and the admin's own, with the add button.
    boss.locator('#replies-tabs [data-screen="canned"]').click()
    expect(boss.locator("#canned-add")).to_be_visible()
    admin_ctx.close()

    # --- a new visitor sees it: bold and a safe link, nothing of the script ran -------------------------
    fresh_ctx = browser.new_context()
    fresh = fresh_ctx.new_page()
    fresh.goto(chat_url)
    welcome = fresh.locator("#welcome .bubble")
    expect(welcome.locator("b")).to_have_text("Welcome to Acme")
    link = welcome.locator('a[href="https://shop.example.com/"]')
    expect(link).to_have_text("our shop")
    expect(link).to_have_attribute("rel", "noopener noreferrer nofollow")
    assert welcome.locator("script, img").count() == 0
    assert welcome.locator('a[href^="javascript"]').count() == 0
    assert fresh.evaluate("window.__pwned") is None
    shot(fresh, "replies-rich-welcome")

    # --- the agent types / in the composer, picks the canned reply with Enter and sends it --------------
    _ctx, console = open_console(browser, server, agent.username)
    open_row(console, first)
    composer = console.locator("#composer-input")
    composer.click()
    composer.press_sequentially("/gre")
    picker = console.locator("#canned-picker")
    expect(picker).to_be_visible()
    expect(picker.locator(".canned-picker__item.is-active")).to_contain_text("Greeting")
    shot(console, "replies-canned-picker")
    composer.press("Enter")
    expect(picker).to_be_hidden()
    name = console.evaluate(f"GoFlyConsole.visitors[{first!r}].name")
    expect(composer).to_have_value(f"Hi {name}, this is Alice.")
    composer.press("Enter")
    expect(phone.locator(".msg--in .bubble").last).to_have_text(f"Hi {name}, this is Alice.")
    # Esc closes the picker without inserting anything.
    composer.press_sequentially("/")
    expect(picker).to_be_visible()
    composer.press("Escape")
    expect(picker).to_be_hidden()
    expect(composer).to_have_value("/")
    # The panel button lists the groups and inserts too.
    composer.fill("")
    console.locator("#canned-open").click()
    console.locator(".canned-panel__item", has_text="Greeting").click()
    expect(composer).to_have_value(f"Hi {name}, this is Alice.")
