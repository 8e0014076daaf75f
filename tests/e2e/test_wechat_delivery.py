"""Browser test of what agents see of a reply WeChat will not deliver (static/js/console/delivery.js): the
reason under the message as soon as the server gives up, and again after a reload, from history."""

from __future__ import annotations

from typing import Any

import pytest

from chat.models import Message
from chat.services import NewMessage, channel_visitor_get_or_create, messages_create
from tests.e2e import test_browser
from tests.e2e.test_browser import expect, send, shot
from tests.e2e.test_console_desk import conversation_row, tab
from tests.e2e.test_console_fixes import assert_no_script_error, console_page
from wechat.models import WechatAccount, WechatFollower

pytestmark = test_browser.pytestmark

DELIVERY = ".msg__delivery"


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("english_platform")
def test_a_reply_outside_the_48_hour_window_shows_why_it_was_not_delivered_live_and_after_a_reload(
    browser: Any, server: str, enterprise: Any, agent: Any
) -> None:
    account = WechatAccount.objects.create(enterprise=enterprise, app_id="wx0123456789abcdef", is_enabled=True)
    visitor, _created = channel_visitor_get_or_create(
        enterprise=enterprise, channel="wechat", public_id="wx.o_e2e_follower", name="微信用户"
    )
    # A follower whose 48 hours are over: GoFly fails the delivery without asking WeChat.
    WechatFollower.objects.create(enterprise=enterprise, account=account, openid="o_e2e", visitor=visitor)
    [stored] = messages_create([NewMessage(visitor, "visitor", "hello from WeChat", "v1")])
    assert not isinstance(stored, Exception)

    ctx, console = console_page(browser, server, agent.username)
    tab(console, "open").click()
    conversation_row(console, visitor.visitor_id).locator("button").click()
    expect(console.locator("#composer-input")).to_be_visible()
    send(console, "Sorry for the wait!")
    last = console.locator(".msg--out").last
    expect(last.locator(".bubble")).to_have_text("Sorry for the wait!")
    expect(last.locator(DELIVERY)).to_contain_text("Not delivered on WeChat", timeout=10000)
    expect(last.locator(DELIVERY)).to_contain_text("48-hour")
    expect(last.locator(DELIVERY)).to_have_class("msg__status msg__delivery msg__status--failed")
    shot(console, "wechat-delivery-failed")
    meta = Message.objects.get(content="Sorry for the wait!").meta
    assert meta is not None and meta["delivery"]["status"] == "failed"

    console.reload()
    expect(console.locator("#conn-status")).to_have_attribute("data-state", "open")
    tab(console, "mine").click()
    conversation_row(console, visitor.visitor_id).locator("button").click()
    again = console.locator(".msg--out").last
    expect(again.locator(DELIVERY)).to_contain_text("48-hour", timeout=10000)
    expect(console.locator(f".msg--in {DELIVERY}")).to_have_count(0)  # the follower's own message has none
    assert_no_script_error(console)
    ctx.close()
