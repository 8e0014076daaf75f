"""Browser test of leaving a message while no agent is online: the visitor's form, its refusal of a bad
contact, the stored waiting conversation, and the console's queue showing it as a left message."""

from __future__ import annotations

import re
from typing import Any

import pytest

from accounts.models import AgentStatus, User
from chat.models import Conversation, Message, Visitor
from tests.e2e import test_browser
from tests.e2e.test_browser import expect, shot, visitor_id_of
from tests.e2e.test_console_desk import conversation_row, count, open_console, tab

pytestmark = test_browser.pytestmark


@pytest.mark.django_db(transaction=True)
def test_with_nobody_online_a_visitor_leaves_a_message_that_waits_in_the_consoles_queue(
    browser: Any,
    server: str,
    enterprise: Any,
    agent: User,
) -> None:
    ctx = browser.new_context(viewport={"width": 420, "height": 760}, locale="en-US")
    page = ctx.new_page()
    page.goto(f"{server}/chatIndex?ent_id={enterprise.pk}&lang=en")
    visitor_id = visitor_id_of(page)
    page.wait_for_function("() => GoFlyVisitor.socket.status === 'open'")

    # Nobody online: the offline text and the form above the composer.
    expect(page.locator("#offline-notice")).to_contain_text("We are away.")
    expect(page.locator("#leave-form")).to_be_visible()

    page.fill("#leave-name", "Li Lei")
    page.fill("#leave-contact", "not a phone")
    page.fill("#leave-content", "Please call me back about my order.")
    page.click("#leave-submit")
    expect(page.locator("#leave-error")).to_contain_text("phone number or an e-mail")
    expect(page.locator("#leave-contact")).to_have_attribute("aria-invalid", "true")
    assert not Message.objects.filter(visitor__visitor_id=visitor_id).exists()

    page.fill("#leave-contact", "+86 138 0000 0000")
    page.click("#leave-submit")
    expect(page.locator("#leave-done")).to_contain_text("Thank you, we will get back to you")
    expect(page.locator(".msg--out").last).to_contain_text("Please call me back about my order.")
    expect(page.locator("#leave-form")).to_be_hidden()  # the conversation waits: the composer adds to it
    expect(page.locator("#composer-input")).to_be_visible()
    shot(page, "leave-message-visitor")

    visitor = Visitor.objects.get(visitor_id=visitor_id)
    assert visitor.name == "Li Lei" and visitor.extra["contact"] == "+86 138 0000 0000"
    message = Message.objects.get(visitor=visitor)
    assert message.meta == {"left_message": True, "name": "Li Lei", "contact": "+86 138 0000 0000"}
    assert Conversation.objects.get(pk=message.conversation_id).status == Conversation.Status.WAITING

    # An agent who logs in away (so routing does not hand it out) finds it in the queue, marked as left.
    User.objects.filter(pk=agent.pk).update(status=AgentStatus.AWAY)
    console_ctx, console = open_console(browser, server, agent.username, locale="en-US")
    expect(count(console, "queue")).to_have_text("1")
    tab(console, "queue").click()
    waiting = conversation_row(console, visitor_id)
    expect(waiting).to_contain_text("Li Lei")
    expect(waiting).to_contain_text(re.compile(r"\[Left a message\] Please call me back"))
    waiting.click()
    expect(console.locator("#info-body")).to_contain_text("+86 138 0000 0000")
    shot(console, "leave-message-console")
    console_ctx.close()
    ctx.close()
