"""Browser test of the landing domain: an enterprise admin sets it in the console's settings dialog, and a
chat link opened on another host of the server lands there and works, query and all."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import User
from accounts.permissions import ROLE_ENTERPRISE_ADMIN
from accounts.services import agent_create
from chat.models import Visitor
from enterprises.models import Enterprise
from tests.conftest import AGENT_PASSWORD
from tests.e2e import test_browser
from tests.e2e.test_browser import expect, shot, visitor_id_of
from tests.e2e.test_console_desk import open_console

pytestmark = test_browser.pytestmark


@pytest.mark.django_db(transaction=True)
def test_an_admin_sets_the_landing_domain_and_a_chat_link_on_another_host_lands_there(
    browser: Any,
    server: str,
    enterprise: Enterprise,
    agent: User,
) -> None:
    admin = agent_create(
        enterprise=enterprise, username="boss", password=AGENT_PASSWORD, nickname="Carol", role=ROLE_ENTERPRISE_ADMIN
    )
    # The test server answers as 127.0.0.1 and as localhost (both in ALLOWED_HOSTS): localhost is the landing domain.
    port = server.rsplit(":", 1)[1]
    landing = f"http://localhost:{port}"

    ctx, console = open_console(browser, server, admin.username, locale="en-US")
    console.locator("#me-toggle").click()
    console.locator("#settings-open").click()
    expect(console.locator("#settings-dialog")).to_be_visible()
    expect(console.locator("#settings-landing")).to_have_value("")
    console.locator("#settings-landing").fill("localhost/chat")
    console.locator("#settings-submit").click()
    expect(console.locator("#settings-error")).to_contain_text("Landing domain")
    expect(console.locator("#settings-landing")).to_be_focused()
    assert Enterprise.objects.get(pk=enterprise.pk).landing_domain == ""
    console.locator("#settings-landing").fill(f"HTTP://LOCALHOST:{port}/")
    console.locator("#settings-submit").click()
    expect(console.locator("#settings-dialog")).to_be_hidden()
    assert Enterprise.objects.get(pk=enterprise.pk).landing_domain == landing
    console.locator("#me-toggle").click()
    console.locator("#settings-open").click()
    expect(console.locator("#settings-landing")).to_have_value(landing)
    shot(console, "console-landing-domain")
    ctx.close()

    # A chat link on 127.0.0.1 lands on localhost with its query, and the chat works there.
    page = browser.new_context(locale="en-US").new_page()
    query = f"kefu_id={agent.username}&ent_id={enterprise.pk}&lang=en&visitor_name=Li+Lei"
    redirects: list[str] = []
    page.on("response", lambda r: redirects.append(r.url) if r.status == 302 else None)
    page.goto(f"{server}/chatIndex?{query}")
    assert page.url == f"{landing}/chatIndex?{query}"
    assert redirects == [f"{server}/chatIndex?{query}"]  # one hop, no loop
    visitor_id = visitor_id_of(page)
    page.wait_for_function("() => GoFlyVisitor.socket.status === 'open'")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    assert Visitor.objects.get(visitor_id=visitor_id).name == "Li Lei"
    # Reloading there stays there.
    page.reload()
    page.wait_for_function("() => GoFlyVisitor.socket.status === 'open'")
    assert page.url == f"{landing}/chatIndex?{query}"
    assert len(redirects) == 1
