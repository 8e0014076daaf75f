"""Browser tests of console defects fixed after the console was split into static/js/console/: a closed
conversation's preview names the agent who closed it, the tag filter looks like the search box, e-mail
alerts ticked before the address stay on, and the canned-reply form and the tag dialog are laid out."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import User
from accounts.permissions import ROLE_ENTERPRISE_ADMIN
from accounts.services import agent_create
from chat.models import Tag
from notices.models import AgentAlerts
from tests.conftest import AGENT_PASSWORD
from tests.e2e import test_browser
from tests.e2e.test_browser import expect, open_row, row, shot
from tests.e2e.test_console_desk import conversation_row, open_console, open_visitor, tab

pytestmark = test_browser.pytestmark

# What the page's scripts report as errors: an uncaught exception or a console.error.
ERRORS = "window.__errors"
ERROR_SPY = """
(() => {
  window.__errors = [];
  window.addEventListener("error", e => window.__errors.push(String(e.message)));
  window.addEventListener("unhandledrejection", e => window.__errors.push(String(e.reason)));
  const error = console.error;
  console.error = (...args) => { window.__errors.push(args.map(String).join(" ")); error(...args); };
})();
"""


def console_page(chromium: Any, base: str, username: str, **context: Any) -> tuple[Any, Any]:
    """The console of `username`, with every script error of the page recorded."""
    ctx, page = open_console(chromium, base, username, **context)
    ctx.add_init_script(ERROR_SPY)
    page.reload()
    expect(page.locator("#conn-status")).to_have_attribute("data-state", "open")
    return ctx, page


def assert_no_script_error(page: Any) -> None:
    assert page.evaluate(ERRORS) == []


def box(locator: Any) -> dict[str, float]:
    found = locator.bounding_box()
    assert found is not None
    return found


def style(locator: Any, prop: str) -> str:
    return locator.evaluate("(node, prop) => getComputedStyle(node).getPropertyValue(prop)", prop)


@pytest.mark.django_db(transaction=True)
def test_a_conversation_an_agent_closed_is_previewed_with_their_name_while_the_visitor_comes_back(
    browser: Any,
    server: str,
    enterprise: Any,
    agent: User,
) -> None:
    ctx, console = console_page(browser, server, agent.username)
    visitor_ctx, vid = open_visitor(browser, server, enterprise, "Is the blue one in stock?")
    try:
        tab(console, "mine").click()
        conversation_row(console, vid).locator("button").click()
        console.locator("#act-close").click()
        console.locator("#confirm-ok").click()
        expect(console.locator("#convbar .chip")).to_have_text("Closed")
        tab(console, "closed").click()
        preview = conversation_row(console, vid).locator(".vrow__preview")
        expect(preview).to_have_text("Alice closed the conversation")

        # The visitor opens another page of the site: their socket comes back with their summary, which
        # words no timeline line; the preview keeps the name the close's line gave.
        visitor = visitor_ctx.pages[0]
        visitor.reload()
        visitor.wait_for_function("() => GoFlyVisitor.socket.status === 'open'")
        console.wait_for_function(f"() => GoFlyConsole.visitors[{vid!r}].online === true")
        console.wait_for_timeout(300)  # the list redraws on the next frame
        expect(preview).to_have_text("Alice closed the conversation")
        tab(console, "online").click()
        expect(row(console, vid).locator(".vrow__preview")).to_have_text("Alice closed the conversation")
        # So does a search, whose answer brings the same summary.
        console.locator("#visitor-search").fill(vid[-6:])
        console.wait_for_timeout(800)
        expect(row(console, vid).locator(".vrow__preview")).to_have_text("Alice closed the conversation")
        assert_no_script_error(console)
        # And after a reload, from the summaries the console starts from.
        console.reload()
        tab(console, "closed").click()
        expect(conversation_row(console, vid).locator(".vrow__preview")).to_have_text("Alice closed the conversation")
    finally:
        visitor_ctx.close()
        ctx.close()


@pytest.mark.django_db(transaction=True)
def test_the_tag_filter_looks_like_the_search_box_above_it(
    browser: Any,
    server: str,
    enterprise: Any,
    agent: User,
) -> None:
    Tag.objects.create(enterprise=enterprise, name="Wholesale", colour="green")
    ctx, console = console_page(browser, server, agent.username)
    try:
        search = console.locator("#visitor-search")
        tags = console.locator("#tag-filter")
        expect(tags).to_be_visible()
        expect(tags.locator("option")).to_have_count(2)
        for prop in ("height", "border-top-left-radius", "border-top-color", "background-color", "font-size"):
            assert style(tags, prop) == style(search, prop), prop
        assert box(tags)["width"] == box(search)["width"]
        assert box(tags)["y"] >= box(search)["y"] + box(search)["height"]
        shot(console, "console-tag-filter")
        assert_no_script_error(console)
    finally:
        ctx.close()


@pytest.mark.django_db(transaction=True)
def test_e_mail_alerts_ticked_before_the_address_is_typed_are_on_once_it_is_saved(
    browser: Any,
    server: str,
    agent: User,
) -> None:
    ctx, console = console_page(browser, server, agent.username, locale="en-US")
    try:
        console.locator("#me-toggle").click()
        enabled = console.locator("#alerts-enabled")
        email = console.locator("#alerts-email")
        enabled.check()
        expect(console.locator("#alerts-error")).to_have_text("Enter your e-mail address first.")
        expect(email).to_be_focused()
        email.fill("alice@example.com")
        email.press("Enter")
        expect(console.locator("#alerts-error")).to_be_hidden()
        expect(enabled).to_be_checked()
        console.wait_for_function(
            "() => fetch('/api/v1/agent/alerts').then(r => r.json()).then(d => d.email_enabled === true)",
            polling=100,
        )
        assert AgentAlerts.objects.get(agent=agent).email_enabled
        assert User.objects.get(pk=agent.pk).email == "alice@example.com"
        # Unticked again, it stays off when the address changes.
        enabled.uncheck()
        expect(enabled).not_to_be_checked()
        email.fill("alice@shop.example.com")
        email.press("Enter")
        console.wait_for_function(
            "() => fetch('/api/v1/agent/alerts').then(r => r.json())"
            ".then(d => d.email === 'alice@shop.example.com' && d.email_enabled === false)",
            polling=100,
        )
        expect(enabled).not_to_be_checked()
        assert_no_script_error(console)
    finally:
        ctx.close()


@pytest.mark.django_db(transaction=True)
def test_the_canned_reply_form_and_the_tag_dialog_are_laid_out_like_the_other_dialogs(
    browser: Any,
    server: str,
    enterprise: Any,
    agent: User,
) -> None:
    agent_create(
        enterprise=enterprise, username="boss", password=AGENT_PASSWORD, nickname="Boss", role=ROLE_ENTERPRISE_ADMIN
    )
    Tag.objects.create(enterprise=enterprise, name="Wholesale", colour="green")
    visitor_ctx, vid = open_visitor(browser, server, enterprise, "Do you ship abroad?")
    ctx, console = console_page(browser, server, "boss")
    try:
        # --- the canned-reply form: the variables hint sits on its own line, under the content ----------
        console.locator("#me-toggle").click()
        console.locator("#replies-open").click()
        console.locator('#replies-tabs [data-screen="canned"]').click()
        console.locator("#canned-add").click()
        form = console.locator("#replies-form-dialog")
        expect(form).to_be_visible()
        fields = form.locator("#replies-form-fields")
        content = fields.locator("#replies-field-content")
        hint = fields.locator(".dialog__hint")
        group = fields.locator('label[for="replies-field-group_id"]')
        expect(hint).to_have_text("Variables: {visitor_name}, {agent_name}, {enterprise_name}")
        assert box(hint)["y"] >= box(content)["y"] + box(content)["height"] - 1
        assert box(group)["y"] >= box(hint)["y"] + box(hint)["height"]
        assert box(hint)["x"] == box(group)["x"] == box(content)["x"]
        shot(console, "console-canned-form")
        console.locator("#replies-form-cancel").click()
        console.keyboard.press("Escape")
        expect(console.locator("#replies-dialog")).to_be_hidden()

        # --- the tag dialog: a dialog's frame, title and fields ---------------------------------------
        open_row(console, vid)
        console.locator("#tags-manage").click()
        dialog = console.locator("#tags-dialog")
        expect(dialog).to_be_visible()
        title = dialog.locator("#tags-dialog-title")
        expect(title).to_have_text("Tags")
        assert style(title, "font-size") == style(console.locator("#settings-title"), "font-size")
        assert box(title)["x"] - box(dialog)["x"] >= 16
        assert box(title)["y"] - box(dialog)["y"] >= 16
        tag_row = dialog.locator(".tags-dialog__row")
        expect(tag_row).to_have_count(1)
        name = tag_row.locator("input")
        expect(name).to_have_value("Wholesale")
        new_name = dialog.locator("#tags-new-name")
        reference = console.locator("#settings-limit")  # a field of another dialog
        for field in (name, tag_row.locator("select"), new_name, dialog.locator("#tags-new-colour")):
            for prop in ("border-top-left-radius", "border-top-width", "border-top-style", "font-size"):
                assert style(field, prop) == style(reference, prop), prop
        assert box(dialog)["x"] + box(dialog)["width"] >= box(dialog.locator("#tags-create"))["x"] + 16
        shot(console, "console-tag-dialog")
        # A tag is created from the dialog's own form, with Enter.
        new_name.fill("VIP")
        new_name.press("Enter")
        expect(tag_row).to_have_count(2)
        expect(new_name).to_have_value("")
        assert Tag.objects.filter(enterprise=enterprise, name="VIP", colour="blue").exists()
        dialog.locator("#tags-dialog-close").click()
        expect(dialog).to_be_hidden()
        assert_no_script_error(console)
    finally:
        ctx.close()
        visitor_ctx.close()
