"""Browser tests of the floating widget (static/js/gofly-front.js): the manual's embed snippet on a third-party
site, another origin than GoFly's, with only GOFLY_URL pointing at the live server."""

from __future__ import annotations

import functools
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from chat.models import Message, Visitor
from tests.e2e import test_browser as base
from tests.e2e.test_visitor_conversation import AgentAPI

pytestmark = base.pytestmark
expect = base.expect

browser = base.browser
server = base.server
PHONE = base.PHONE
shot = base.shot

PRODUCT = {"title": "GOFLY客服系统商务版", "price": "1000元", "img": "https://example.com/p.png", "url": ""}

# The host site's own styles and globals, which the widget must neither change nor be changed by.
HOST_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Shop</title>
<script>window.__before = Object.keys(window);</script>
<style>
  body {{ font-family: serif; font-size: 30px; color: rgb(0, 128, 0); }}
  .btn, button {{ background: rgb(255, 0, 0) !important; font-size: 40px; padding: 30px; }}
  div, span {{ display: inline; border: 5px solid black; }}
  iframe {{ width: 10px; height: 10px; }}
</style>
{head}
</head>
<body><h1>Our shop</h1><button class="btn" id="own">Buy</button>
{body}
</body></html>
"""


def snippet(server: str, ent_id: int, kefu_id: str, **changes: Any) -> str:
    options = {
        "GOFLY_URL": server,
        "GOFLY_KEFU_ID": kefu_id,
        "GOFLY_ENT": str(ent_id),
        "GOFLY_BTN_TEXT": "GOFLY-PRO LIVE CHAT",
        "GOFLY_LANG": "en",
        "GOFLY_AUTO_OPEN": False,
        "GOFLY_AUTO_SHOW": False,
        "GOFLY_WITHOUT_BTN": False,
        "GOFLY_EXTRA": {"visitorProduct": PRODUCT},
    }
    options.update({f"GOFLY_{name}": value for name, value in changes.items()})
    return (
        f'<script src="{server}/static/js/gofly-front.js"></script>\n'
        f"<script>GOFLY.init({json.dumps(options, ensure_ascii=False)})</script>"
    )


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def host_site(tmp_path: Path) -> Iterator[Callable[[str, str, str], str]]:
    """A third-party site on another port of 127.0.0.1 (so another origin); `page(name, head, body)` writes a
    page and answers its URL."""
    handler = functools.partial(QuietHandler, directory=str(tmp_path))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    origin = f"http://127.0.0.1:{httpd.server_address[1]}"

    def page(name: str, head: str = "", body: str = "") -> str:
        (tmp_path / name).write_text(HOST_PAGE.format(head=head, body=body), encoding="utf-8")
        return f"{origin}/{name}"

    try:
        yield page
    finally:
        httpd.shutdown()
        httpd.server_close()


def wait_for(predicate: Callable[[], Any], timeout: float = 10) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def styles(locator: Any) -> list[str]:
    return list(
        locator.evaluate("e => { const s = getComputedStyle(e); return [s.backgroundColor, s.fontSize, s.color]; }")
    )


def new_globals(page: Any) -> list[str]:
    return sorted(page.evaluate("Object.keys(window).filter(k => !window.__before.includes(k) && k !== '__before')"))


@pytest.mark.django_db(transaction=True)
def test_the_manuals_snippet_on_another_site_opens_the_chat_in_a_floating_panel_with_an_unread_counter(
    browser: Any, server: str, enterprise: Any, agent: Any, host_site: Callable[..., str]
) -> None:
    url = host_site("shop.html", body=snippet(server, enterprise.pk, agent.username))
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(url)

    # --- the launcher, in its own style whatever the host's; no iframe before the first open -------
    launcher = page.locator("gofly-widget .gfw-b")
    expect(launcher.locator(".gfw-lt")).to_have_text("GOFLY-PRO LIVE CHAT")
    expect(launcher.locator(".gfw-s")).to_have_text("Offline, leave a message")  # GET /api/v1/widget said so
    assert styles(launcher) == ["rgb(37, 99, 235)", "14px", "rgb(255, 255, 255)"]
    assert styles(page.locator("#own")) == [
        "rgb(255, 0, 0)",
        "40px",
        "rgb(0, 0, 0)",
    ]  # the host's button keeps the host's style
    assert page.evaluate("getComputedStyle(document.body).fontFamily") == "serif"
    assert page.locator("gofly-widget iframe").count() == 0
    assert new_globals(page) == ["GOFLY", "KEFU"]
    box = launcher.bounding_box()
    assert box["x"] + box["width"] > 1200 and box["y"] + box["height"] > 740  # bottom right
    shot(page, "widget-launcher")

    # --- a second init changes nothing ---------------------------------------------------------
    page.evaluate(f"GOFLY.init({{GOFLY_URL: '{server}', GOFLY_KEFU_ID: 'x', GOFLY_ENT: '1'}})")
    assert page.locator("gofly-widget").count() == 1

    # --- opening shows the chat page in a 380x600 panel at the bottom right ----------------------
    launcher.click()
    panel = page.locator("gofly-widget .gfw-p")
    expect(panel).to_be_visible()
    frame_box = panel.bounding_box()
    assert (frame_box["width"], frame_box["height"]) == (380, 600)
    assert frame_box["x"] + frame_box["width"] == 1280 - 20
    chat = page.frame_locator("gofly-widget iframe")
    expect(chat.locator("#agent-name")).to_have_text("Alice")
    expect(page.locator("gofly-widget .gfw-t")).to_have_text("Alice")  # the chat page told the host its agent

    # --- the visitor writes: stored, with the product of GOFLY_EXTRA and the host page as referrer --
    chat.locator("#composer-input").fill("Is this in stock?")
    chat.locator("#composer-input").press("Enter")
    message = wait_for(lambda: Message.objects.filter(content="Is this in stock?").first())
    assert message is not None
    visitor = Visitor.objects.get(pk=message.visitor_id)
    assert visitor.extra["visitorProduct"] == PRODUCT
    assert visitor.landing_page == url
    shot(page, "widget-open")

    # --- closed, the conversation lives on: agent replies count on the launcher ------------------
    page.locator("gofly-widget .gfw-x").click()
    expect(panel).to_be_hidden()
    assert page.locator("gofly-widget iframe").count() == 1
    badge = page.locator("gofly-widget .gfw-n")
    expect(badge).to_be_hidden()
    alice = AgentAPI(server, agent.username)
    try:
        path = f"/api/v1/agent/visitors/{visitor.visitor_id}/messages"
        alice.post(path, {"client_id": "w-1", "content": "Yes, it is."})
        expect(badge).to_have_text("1")
        alice.post(path, {"client_id": "w-2", "content": "Shall I reserve one?"})
        expect(badge).to_have_text("2")
    finally:
        alice.close()
    assert Message.objects.filter(visitor=visitor, sender=Message.Sender.AGENT).count() == 2
    expect(launcher).to_have_attribute("aria-label", "GOFLY-PRO LIVE CHAT, Offline, leave a message (2 unread messages)")
    # The newest one is previewed above the launcher, and the host's title flashes.
    expect(page.locator("gofly-widget .gfw-v")).to_contain_text("Shall I reserve one?")
    page.wait_for_function("document.title === '(2) New message'")
    page.wait_for_timeout(600)  # a read receipt would have gone by now: the closed panel has seen nothing
    assert not Message.objects.filter(visitor=visitor, sender=Message.Sender.AGENT, read_at__isnull=False).exists()
    shot(page, "widget-unread")

    # --- the JS API reopens the same conversation; the counter resets -------------------------
    page.evaluate("GOFLY.open()")
    expect(panel).to_be_visible()
    expect(badge).to_be_hidden()
    expect(page.locator("gofly-widget .gfw-v")).to_be_hidden()
    assert page.title() == "Shop"  # restored exactly
    page.wait_for_timeout(1100)
    assert page.title() == "Shop"
    expect(chat.locator("#messages")).to_contain_text("Shall I reserve one?")
    expect(chat.locator("#messages")).to_contain_text("Is this in stock?")
    # Shown now: the agents hear that the visitor has read both.
    deadline = time.monotonic() + 5
    while Message.objects.filter(visitor=visitor, sender=Message.Sender.AGENT, read_at__isnull=True).exists():
        assert time.monotonic() < deadline, "the opened panel did not report its messages read"
        page.wait_for_timeout(100)
    page.evaluate("KEFU.toggle()")
    expect(panel).to_be_hidden()
    assert [g for g in new_globals(page) if not g.isdigit()] == ["GOFLY", "KEFU"]
    context.close()


@pytest.mark.django_db(transaction=True)
def test_the_snippet_in_head_works_and_on_a_phone_the_chat_opens_full_screen_with_a_close_button(
    browser: Any, server: str, enterprise: Any, agent: Any, host_site: Callable[..., str]
) -> None:
    head = snippet(server, enterprise.pk, agent.username).replace("GOFLY.init(", "KEFU.init(")
    head = head.replace('"GOFLY_', '"KEFU_').replace("LIVE CHAT", "在线客服")
    url = host_site("head.html", head=head)
    context = browser.new_context(**PHONE)
    page = context.new_page()
    page.goto(url)
    launcher = page.locator("gofly-widget .gfw-b")
    expect(launcher.locator(".gfw-lt")).to_have_text("GOFLY-PRO 在线客服")
    launcher.click()
    panel = page.locator("gofly-widget .gfw-p")
    expect(panel).to_be_visible()
    box = panel.bounding_box()
    assert (box["x"], box["y"], box["width"], box["height"]) == (0, 0, 390, 844)
    expect(launcher).to_be_hidden()  # full screen: the panel's own close button closes it
    chat = page.frame_locator("gofly-widget iframe")
    expect(chat.locator("#composer-input")).to_be_visible()
    close = page.locator("gofly-widget .gfw-x")
    expect(close).to_have_attribute("aria-label", "Close chat")
    shot(page, "widget-phone")
    close.click()
    expect(panel).to_be_hidden()
    expect(launcher).to_be_visible()
    context.close()


@pytest.mark.django_db(transaction=True)
def test_without_a_button_the_page_opens_the_chat_through_the_api_and_auto_open_opens_it_at_load(
    browser: Any, server: str, enterprise: Any, agent: Any, host_site: Callable[..., str]
) -> None:
    quiet = snippet(server, enterprise.pk, agent.username, WITHOUT_BTN=True, LANG="zh")
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(host_site("quiet.html", body=quiet))
    page.wait_for_function("window.GOFLY && document.querySelector('gofly-widget')")
    expect(page.locator("gofly-widget .gfw-b")).to_be_hidden()
    assert page.locator("gofly-widget iframe").count() == 0
    page.evaluate("GOFLY.open()")
    expect(page.locator("gofly-widget .gfw-p")).to_be_visible()
    expect(page.locator("gofly-widget .gfw-x")).to_have_attribute("aria-label", "关闭聊天")
    expect(page.frame_locator("gofly-widget iframe").locator("#composer-input")).to_be_visible()
    page.evaluate("GOFLY.close()")
    expect(page.locator("gofly-widget .gfw-p")).to_be_hidden()

    eager = snippet(server, enterprise.pk, agent.username, AUTO_OPEN=True)
    page.goto(host_site("eager.html", body=eager))
    expect(page.locator("gofly-widget .gfw-p")).to_be_visible()
    expect(page.frame_locator("gofly-widget iframe").locator("#agent-name")).to_have_text("Alice")
    context.close()
