"""Browser tests of the content security policy (security finding 12): a script injected into the console or the
visitor chat page does not run, and the login page, the console, the chat page and the Django admin work
without a single violation."""

from __future__ import annotations

import re
from typing import Any

import pytest

from accounts.services import superadmin_create
from tests.conftest import AGENT_PASSWORD
from tests.e2e import test_browser
from tests.e2e.test_browser import expect, log_in, open_row, row, send, shot

pytestmark = test_browser.pytestmark

# Installed before any script of every page and frame: each violation is kept in the page and reported to
# the test (`cspViolation`, exposed below), so none is lost when the page navigates away.
CSP_SPY = """
(() => {
  window.__csp = [];
  document.addEventListener("securitypolicyviolation", (e) => {
    const seen = { directive: e.effectiveDirective, blocked: e.blockedURI, page: location.pathname };
    window.__csp.push(seen);
    if (window.cspViolation) window.cspViolation(seen);
  });
})();
"""

# What an XSS would try: an inline <script>, an inline event handler brought in by innerHTML, a string timer and
# eval (run from a timer: code the test evaluates directly is exempt from the page's policy). window.__ran
# records whichever ran; the image's own listener proves that its error event did fire.
INJECT = """() => new Promise((resolve) => {
  window.__ran = [];
  const script = document.createElement("script");
  script.textContent = "window.__ran.push('inline script')";
  document.body.appendChild(script);
  const box = document.createElement("div");
  box.innerHTML = '<img id="csp-probe" src="x" onerror="window.__ran.push(\\'onerror\\')">';
  box.firstChild.addEventListener("error", () => { window.__probeFailed = true; });
  document.body.appendChild(box);
  setTimeout("window.__ran.push('string timer')", 0);
  setTimeout(() => {
    try {
      eval("window.__ran.push('eval')");
      resolve("no error");
    } catch (error) {
      resolve(error.name);
    }
  }, 0);
})"""


class Watched:
    """A browser context whose pages report every CSP violation, from the console and from the pages' events,
    and the Content-Security-Policy header of every page they load."""

    def __init__(self, chromium: Any, **options: Any) -> None:
        self.violations: list[str] = []
        self.policies: dict[str, str | None] = {}
        self.context = chromium.new_context(**options)
        self.context.expose_function("cspViolation", lambda seen: self.violations.append(f"event {seen}"))
        self.context.add_init_script(CSP_SPY)
        self.context.on("console", self._console)
        self.context.on("response", self._response)

    def _console(self, message: Any) -> None:
        if "Content Security Policy" in message.text:
            self.violations.append(f"console {message.text}")

    def _response(self, response: Any) -> None:
        if response.request.resource_type == "document" and response.status == 200:
            self.policies[response.url] = response.headers.get("content-security-policy")

    def new_page(self) -> Any:
        return self.context.new_page()


def visitor_id_of(page: Any) -> str:
    """test_browser.visitor_id_of, with its predicate as a function: Playwright evaluates a predicate written as
    an expression with eval at every poll after the first, which this policy refuses."""
    page.wait_for_function("() => window.GoFlyVisitor && GoFlyVisitor.state.visitor")
    return str(page.evaluate("GoFlyVisitor.state.visitor.visitor_id"))


def script_sources(policy: str | None) -> list[str]:
    for part in (policy or "").split(";"):
        name, *sources = part.split() or [""]
        if name == "script-src":
            return sources
    return []


def assert_injection_refused(page: Any) -> None:
    assert page.evaluate(INJECT) == "EvalError"
    page.wait_for_function("() => window.__probeFailed && window.__csp.length >= 4")
    assert page.evaluate("window.__ran") == []
    refused = {seen["directive"] for seen in page.evaluate("window.__csp")}
    assert {"script-src-elem", "script-src-attr", "script-src"} <= refused, refused


@pytest.mark.django_db(transaction=True)
def test_a_script_injected_into_the_console_or_the_chat_page_is_refused_and_reported(
    browser: Any, server: str, enterprise: Any, agent: Any
) -> None:
    agent_side = Watched(browser, viewport={"width": 1440, "height": 900})
    console = agent_side.new_page()
    log_in(console, server, agent.username, AGENT_PASSWORD)
    console.wait_for_url(re.compile(r"/console$"))
    expect(console.locator("#conn-status")).to_have_attribute("data-state", "open")
    assert_injection_refused(console)
    expect(console.locator("#conn-status")).to_have_attribute("data-state", "open")  # the page still works

    visitor_side = Watched(browser)
    chat = visitor_side.new_page()
    chat.goto(f"{server}/chatIndex?kefu_id={agent.username}&ent_id={enterprise.pk}&lang=en")
    visitor_id_of(chat)
    assert_injection_refused(chat)
    send(chat, "still chatting")
    expect(row(console, visitor_id_of(chat)).locator(".vrow__preview")).to_have_text("still chatting")
    assert any("Content Security Policy" in seen for seen in visitor_side.violations)


@pytest.mark.django_db(transaction=True)
def test_login_console_chat_page_and_admin_work_with_no_violation(
    browser: Any, server: str, enterprise: Any, agent: Any
) -> None:
    superadmin_create(username="root", password=AGENT_PASSWORD)

    # --- the agent logs in to the console --------------------------------------------------------------
    agent_side = Watched(browser, viewport={"width": 1440, "height": 900})
    console = agent_side.new_page()
    log_in(console, server, agent.username, AGENT_PASSWORD)
    console.wait_for_url(re.compile(r"/console$"))
    expect(console.locator("#conn-status")).to_have_attribute("data-state", "open")
    expect(console.locator("#agent-name")).to_have_text("Alice")

    # --- a visitor opens the chat page and writes; the agent reads it ----------------------------------
    visitor_side = Watched(browser)
    chat = visitor_side.new_page()
    chat.goto(f"{server}/chatIndex?kefu_id={agent.username}&ent_id={enterprise.pk}&lang=en")
    expect(chat.locator("#agent-name")).to_have_text("Alice")
    visitor = visitor_id_of(chat)
    send(chat, "Hello from a strict page")
    expect(chat.locator(".msg--out").last).to_have_attribute("data-state", re.compile("sent|read"))
    expect(row(console, visitor).locator(".vrow__preview")).to_have_text("Hello from a strict page")
    open_row(console, visitor)
    expect(console.locator("#messages .msg--in .bubble").last).to_have_text("Hello from a strict page")
    shot(console, "csp-console")

    # --- the superadmin logs in to the Django admin and opens an enterprise ----------------------------
    admin_side = Watched(browser)
    admin = admin_side.new_page()
    admin.goto(f"{server}/admin/login/")
    admin.fill("#id_username", "root")
    admin.fill("#id_password", AGENT_PASSWORD)
    admin.click("input[type=submit]")
    admin.wait_for_url(re.compile(r"/admin/$"))
    expect(admin.locator("#user-tools")).to_be_visible()
    admin.goto(f"{server}/admin/enterprises/enterprise/{enterprise.pk}/change/")
    expect(admin.locator("#enterprise_form")).to_be_visible()
    shot(admin, "csp-admin")

    pages = [console, chat, admin]
    for page in pages:
        assert page.evaluate("window.__csp") == []  # also waits for any report still on its way
    sides = [agent_side, visitor_side, admin_side]
    assert [seen for side in sides for seen in side.violations] == []
    # Not a vacuous pass: every page loaded came with the strict script policy.
    loaded = {url: policy for side in sides for url, policy in side.policies.items()}
    paths = {re.sub(r"^https?://[^/]+", "", url).split("?")[0] for url in loaded}
    assert {"/login", "/console", "/chatIndex", "/admin/login/", "/admin/"} <= paths, paths
    assert all(script_sources(policy) == ["'self'"] for policy in loaded.values()), loaded
