"""Browser test of the WeChat channel end to end, in Chinese and in English: a (fake) follower follows the
official account and writes; the agent's console shows the conversation, marked WeChat, with the greeting, the
follower's text and picture; the agent's reply reaches WeChat's customer-service endpoint exactly once and an
internal note never does."""

from __future__ import annotations

import io
import json
import time
from typing import Any

import pytest
from django.urls import reverse
from PIL import Image

from chat.models import Message
from tests.e2e import test_browser
from tests.e2e.conftest import ARTIFACTS
from tests.e2e.test_browser import expect, send, shot
from tests.e2e.test_console_desk import conversation_row, tab
from tests.e2e.test_console_fixes import assert_no_script_error, console_page
from tests.servers import gofly_server
from tests.wechat import fakeserver as fw
from tests.wechat.conftest import fake_wechat, wechat_account, wechat_boss, wechat_keys  # noqa: F401 - fixtures
from tests.wechat.fakeserver import CUSTOM_SEND_PATH
from wechat.models import WechatFollower

pytestmark = test_browser.pytestmark

WORDS = {
    "zh": {"locale": "zh-CN", "chip": "微信", "note_name": "内部备注", "follower": "微信粉丝"},
    "en": {"locale": "en-US", "chip": "WeChat", "note_name": "Internal note", "follower": "WeChat follower"},
}


def picture() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def sent_texts(fake: Any, openid: str) -> list[str]:
    return [
        call.json["text"]["content"]
        for call in fake.calls(CUSTOM_SEND_PATH)
        if call.json and call.json.get("touser") == openid and call.json.get("msgtype") == "text"
    ]


def wait_for(check: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("language", ["zh", "en"])
def test_an_agent_chats_with_a_wechat_follower_in_the_console(
    browser: Any,
    enterprise: Any,
    agent: Any,
    language: str,
    wechat_keys: Any,  # noqa: F811 - the fixtures imported above
    fake_wechat: Any,  # noqa: F811
    wechat_account: Any,  # noqa: F811
) -> None:
    words = WORDS[language]
    env = {
        "GOFLY_WECHAT_API_BASE": fake_wechat.api_base,
        "GOFLY_WECHAT_MP_BASE": fake_wechat.mp_base,
        "GOFLY_WECHAT_TIMEOUT": "2",
        "DJANGO_ALLOW_ASYNC_UNSAFE": "",
    }
    openid = fake_wechat.add_follower(nickname="阿美", language="zh_CN" if language == "zh" else "en")
    to = fake_wechat.account.original_id
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with gofly_server(env=env, log=ARTIFACTS / f"wechat-follower-{language}.log") as server:
        ctx, console = console_page(browser, server, agent.username, locale=words["locale"])
        callback = server + reverse("wechat_callback", kwargs={"callback_key": wechat_account.callback_key})

        # The follower follows (the greeting opens a conversation routed to the only agent), then writes.
        assert fake_wechat.deliver(callback, fw.subscribe_xml(to=to, openid=openid), "safe") == (200, b"success")
        text = "我想退货" if language == "zh" else "I want a refund"
        assert fake_wechat.deliver(callback, fw.text_xml(to=to, openid=openid, content=text), "safe") == (
            200,
            b"success",
        )
        media = fake_wechat.add_media(picture(), "image", "photo.png")
        assert fake_wechat.deliver(callback, fw.image_xml(to=to, openid=openid, media_id=media), "safe") == (
            200,
            b"success",
        )
        follower = WechatFollower.objects.select_related("visitor").get(openid=openid)
        visitor_id = follower.visitor.visitor_id

        tab(console, "mine").click()
        row = conversation_row(console, visitor_id)
        expect(row.locator(".chip--wechat")).to_have_text(words["chip"], timeout=10000)
        expect(row.locator(".vrow__name")).to_have_text("阿美")
        row.locator("button").click()
        expect(console.locator("#messages .msg--in .bubble").first).to_have_text(text, timeout=10000)
        expect(console.locator("#chat-sub")).to_contain_text(words["follower"])  # reachable, though it has no socket
        expect(console.locator("#messages .msg--in img.att-image__img")).to_have_count(1, timeout=10000)
        greeting = "欢迎关注！" if language == "zh" else "Welcome!"
        expect(console.locator("#messages .msg--out .bubble").first).to_have_text(greeting)

        # The agent's reply: shown at once, sent to the follower through WeChat exactly once.
        reply = "好的，请提供订单号。" if language == "zh" else "Sure, what is your order number?"
        send(console, reply)
        expect(console.locator("#messages .msg--out .bubble").last).to_have_text(reply)
        assert wait_for(lambda: reply in sent_texts(fake_wechat, openid)), fake_wechat.requests
        # An internal note stays in the desk.
        console.locator("#composer-note").click()
        send(console, "VIP customer, check the refund policy")
        note = console.locator("#messages .msg--note")
        expect(note.locator(".bubble")).to_have_text("VIP customer, check the refund policy")
        expect(note.locator(".msg__name")).to_contain_text(words["note_name"])
        console.locator("#composer-note").click()
        # The follower writes again: it appears live in the open thread.
        again = "订单号 1234" if language == "zh" else "Order 1234"
        assert fake_wechat.deliver(callback, fw.text_xml(to=to, openid=openid, content=again), "safe") == (
            200,
            b"success",
        )
        expect(console.locator("#messages .msg--in .bubble").last).to_have_text(again, timeout=10000)
        shot(console, f"wechat-follower-{language}")
        assert_no_script_error(console)
        time.sleep(1.0)  # any late duplicate send would be recorded by now
        texts = sent_texts(fake_wechat, openid)
        assert texts.count(reply) == 1 and texts.count(greeting) == 1, texts
        assert not any("VIP customer" in sent for sent in texts), texts
        assert all("VIP customer" not in json.dumps(call.json or {}) for call in fake_wechat.requests)
        assert Message.objects.filter(visitor=follower.visitor, sender="visitor").count() == 3
        ctx.close()
