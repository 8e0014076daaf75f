"""What followers send reaches the chat as their visitor's messages, in a `wechat` conversation, through
the message service (published to the console, stored once, refused for a blocked follower); follow,
unfollow and scan events change the follower and greet once."""

from __future__ import annotations

import io
import time
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.test import Client
from PIL import Image

from blacklist.services import visitor_block
from chat.models import Conversation, Message, Tag, Visitor, VisitorTag
from tests.chat.test_consumers import jwt_for
from tests.chat.wsutil import agent_socket, connect_ready, recv_type
from wechat.inbound import FOLLOWED_TAG, follower_public_id
from wechat.models import WechatAccount, WechatDelivery, WechatFollower

from . import fakeserver as fw
from .fakeserver import FakeWechat
from .test_callback import deliver, stored, text

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english_platform")]

MODES = ["plaintext", "safe"]


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(buffer, "PNG")
    return buffer.getvalue()


_PNG = png()


def set_mode(account: WechatAccount, mode: str) -> None:
    account.message_mode = mode
    account.save(update_fields=["message_mode"])


def ok(answer: Any) -> None:
    assert answer.status_code == 200 and answer.content == b"success", answer.content


def the_message(fake: FakeWechat, openid: str) -> Message:
    [message] = stored()
    follower = WechatFollower.objects.select_related("visitor").get(openid=openid)
    assert message.visitor_id == follower.visitor_id and message.sender == Message.Sender.VISITOR
    assert message.conversation.channel == Conversation.Channel.WECHAT
    assert follower.visitor.channel == "wechat" and follower.last_inbound_at is not None
    return message


@pytest.mark.parametrize("mode", MODES)
def test_a_text_becomes_the_followers_message_in_a_wechat_conversation(client, fake_wechat, wechat_account, mode):
    set_mode(wechat_account, mode)
    openid = fake_wechat.add_follower(nickname="小明", language="zh_CN")
    ok(deliver(client, fake_wechat, wechat_account, text(fake_wechat, openid, "我想退货")))
    message = the_message(fake_wechat, openid)
    assert message.content == "我想退货"
    visitor = Visitor.objects.get()
    assert visitor.name == "小明" and visitor.visitor_id == follower_public_id(wechat_account, openid)
    assert openid not in visitor.visitor_id and visitor.enterprise_id == wechat_account.enterprise_id


@pytest.mark.parametrize("mode", MODES)
def test_a_location_is_text_with_its_coordinates(client, fake_wechat, wechat_account, mode):
    set_mode(wechat_account, mode)
    openid = fake_wechat.add_follower()
    xml = fw.location_xml(to="gh_x", openid=openid, latitude=22.54, longitude=114.05, label="深圳市南山区")
    ok(deliver(client, fake_wechat, wechat_account, xml))
    message = the_message(fake_wechat, openid)
    assert message.content == "📍 深圳市南山区 (22.54, 114.05)"
    meta = message.meta or {}
    assert meta["latitude"] == "22.54" and meta["label"] == "深圳市南山区"


@pytest.mark.parametrize("mode", MODES)
def test_a_link_is_text_with_its_title_and_url(client, fake_wechat, wechat_account, mode):
    set_mode(wechat_account, mode)
    openid = fake_wechat.add_follower()
    xml = fw.link_xml(to="gh_x", openid=openid, title="订单", description="d", url="https://example.com/o/1")
    ok(deliver(client, fake_wechat, wechat_account, xml))
    message = the_message(fake_wechat, openid)
    assert "订单" in message.content and "https://example.com/o/1" in message.content


@pytest.mark.parametrize("mode", MODES)
def test_a_voice_with_recognition_is_its_text(client, fake_wechat, wechat_account, mode):
    set_mode(wechat_account, mode)
    openid = fake_wechat.add_follower()
    media = fake_wechat.add_media(b"#!AMR\n" + b"\0" * 100, "voice", "v.amr")
    ok(
        deliver(
            client,
            fake_wechat,
            wechat_account,
            fw.voice_xml(to="gh_x", openid=openid, media_id=media, recognition="查一下快递"),
        )
    )
    assert "查一下快递" in the_message(fake_wechat, openid).content
    assert fake_wechat.count("/cgi-bin/media/get") == 0


@pytest.mark.parametrize("mode", MODES)
def test_an_image_is_fetched_into_our_uploads(client, fake_wechat, wechat_account, mode):
    set_mode(wechat_account, mode)
    openid = fake_wechat.add_follower()
    media = fake_wechat.add_media(_PNG, "image", "photo.png")
    ok(deliver(client, fake_wechat, wechat_account, fw.image_xml(to="gh_x", openid=openid, media_id=media)))
    message = the_message(fake_wechat, openid)
    assert message.kind == Message.Kind.IMAGE, message.content
    assert (message.meta or {})["attachment"]["name"].endswith(".png")
    assert fake_wechat.calls("/cgi-bin/media/get")[0].query["media_id"] == media


@pytest.mark.parametrize("mode", MODES)
def test_a_media_wechat_does_not_give_is_a_text_saying_so(client, fake_wechat, wechat_account, mode):
    set_mode(wechat_account, mode)
    openid = fake_wechat.add_follower()
    ok(deliver(client, fake_wechat, wechat_account, fw.image_xml(to="gh_x", openid=openid, media_id="gone")))
    message = the_message(fake_wechat, openid)
    assert message.kind == Message.Kind.TEXT and "40007" in message.content and (message.meta or {})["media_missing"]


def test_a_voice_without_recognition_and_a_video_are_files_or_a_note(client, fake_wechat, wechat_account):
    openid = fake_wechat.add_follower()
    voice = fake_wechat.add_media(b"#!AMR\n" + b"\1" * 200, "voice", "v.amr")
    ok(deliver(client, fake_wechat, wechat_account, fw.voice_xml(to="gh_x", openid=openid, media_id=voice)))
    wechat_account.enterprise.upload_file_max_mb = 1
    wechat_account.enterprise.save(update_fields=["upload_file_max_mb"])
    video = fake_wechat.add_media(b"\0" * (1024 * 1024 + 1), "video", "big.mp4")
    xml = fw.video_xml(to="gh_x", openid=openid, media_id=video, thumb_media_id="t")
    ok(deliver(client, fake_wechat, wechat_account, xml))
    first, second = stored()
    # The voice is kept as a file (an AMR starts "#!AMR": a format, not a script); the video over the
    # enterprise's file size arrives as a text saying so; neither is dropped.
    assert first.kind == Message.Kind.FILE, first.content
    assert (first.meta or {})["attachment"]["name"].endswith(".amr") and (first.meta or {})["wechat"] == "voice"
    assert second.kind == Message.Kind.TEXT and "1 MB" in second.content


def test_a_retried_message_is_stored_once_and_its_media_fetched_once(client, fake_wechat, wechat_account):
    openid = fake_wechat.add_follower()
    media = fake_wechat.add_media(_PNG, "image", "p.png")
    xml = fw.image_xml(to="gh_x", openid=openid, media_id=media, msg_id=1234567890123456)
    for _ in range(3):  # WeChat's retries: the same message under new nonces
        ok(deliver(client, fake_wechat, wechat_account, xml))
    [message] = stored()
    assert message.client_id == "wx-1234567890123456"
    assert fake_wechat.count("/cgi-bin/media/get") == 1
    assert WechatFollower.objects.count() == 1 and Visitor.objects.count() == 1


def test_user_info_failing_never_loses_the_message(client, fake_wechat, wechat_account):
    openid = fake_wechat.add_follower()
    fake_wechat.fail_server_error(times=5, path="/cgi-bin/user/info")
    ok(deliver(client, fake_wechat, wechat_account, text(fake_wechat, openid, "hello")))
    message = the_message(fake_wechat, openid)
    assert message.content == "hello"
    assert message.visitor.name.startswith("WeChat user") or message.visitor.name.startswith("微信用户")


def test_a_blocked_follower_stores_nothing(client, fake_wechat, wechat_account, agent):
    openid = fake_wechat.add_follower()
    ok(deliver(client, fake_wechat, wechat_account, text(fake_wechat, openid, "first")))
    visitor = Visitor.objects.get()
    visitor_block(agent=agent, visitor_id=visitor.visitor_id)
    ok(deliver(client, fake_wechat, wechat_account, text(fake_wechat, openid, "again")))
    ok(deliver(client, fake_wechat, wechat_account, fw.subscribe_xml(to="gh_x", openid=openid)))
    assert [m.content for m in stored() if m.kind != Message.Kind.EVENT] == ["first"]


def test_a_subscribe_greets_once_and_tags_the_follower(client, fake_wechat, wechat_account):
    openid = fake_wechat.add_follower(language="zh_CN")
    xml = fw.subscribe_xml(to="gh_x", openid=openid, create_time=int(time.time()))
    ok(deliver(client, fake_wechat, wechat_account, xml))
    ok(deliver(client, fake_wechat, wechat_account, xml))  # WeChat's retry of the same event
    [greeting] = stored()
    assert greeting.content == "欢迎关注！" and greeting.sender == Message.Sender.AGENT and greeting.agent is None
    assert greeting.meta == {"auto": "greeting"}
    # Stored like an agent's reply, so the channel's sending takes it (one delivery, written with it).
    assert WechatDelivery.objects.filter(message=greeting).count() == 1
    follower = WechatFollower.objects.get()
    assert follower.subscribed and follower.subscribed_at is not None
    tag = Tag.objects.get(enterprise=wechat_account.enterprise, name=FOLLOWED_TAG)
    assert VisitorTag.objects.filter(visitor=follower.visitor, tag=tag).exists()
    # A later follow (after an unfollow) is a new event: greeted again.
    ok(deliver(client, fake_wechat, wechat_account, fw.unsubscribe_xml(to="gh_x", openid=openid)))
    ok(
        deliver(
            client,
            fake_wechat,
            wechat_account,
            fw.subscribe_xml(to="gh_x", openid=openid, create_time=int(time.time()) + 1),
        )
    )
    assert [m.content for m in stored()] == ["欢迎关注！", "欢迎关注！"]


def test_an_english_follower_gets_the_english_greeting(client, fake_wechat, wechat_account):
    openid = fake_wechat.add_follower(language="en")
    ok(deliver(client, fake_wechat, wechat_account, fw.subscribe_xml(to="gh_x", openid=openid)))
    assert [m.content for m in stored()] == ["Welcome!"]


def test_an_unsubscribe_records_it_untags_and_sends_nothing(client, fake_wechat, wechat_account):
    openid = fake_wechat.add_follower()
    ok(deliver(client, fake_wechat, wechat_account, fw.subscribe_xml(to="gh_x", openid=openid)))
    ok(deliver(client, fake_wechat, wechat_account, fw.unsubscribe_xml(to="gh_x", openid=openid)))
    follower = WechatFollower.objects.get()
    assert not follower.subscribed and follower.unsubscribed_at is not None
    assert not VisitorTag.objects.filter(visitor=follower.visitor).exists()
    assert len(stored()) == 1  # the greeting only


def test_a_scene_is_recorded_on_the_visitor(client, fake_wechat, wechat_account):
    openid = fake_wechat.add_follower()
    ok(deliver(client, fake_wechat, wechat_account, fw.subscribe_xml(to="gh_x", openid=openid, scene="shop-7")))
    assert Visitor.objects.get().extra["wechat_scene"] == "shop-7"
    ok(deliver(client, fake_wechat, wechat_account, fw.scan_xml(to="gh_x", openid=openid, scene="desk-2")))
    assert Visitor.objects.get().extra["wechat_scene"] == "desk-2"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("mode", MODES)
async def test_a_followers_message_reaches_an_agents_console(fake_wechat, wechat_account, agent, mode):
    await sync_to_async(set_mode)(wechat_account, mode)
    openid = fake_wechat.add_follower(nickname="阿强")
    console = agent_socket(jwt=jwt_for(agent))
    await connect_ready(console)
    answer = await sync_to_async(deliver)(Client(), fake_wechat, wechat_account, text(fake_wechat, openid, "有人吗"))
    ok(answer)
    frame = await recv_type(console, "message.new")
    assert frame["content"] == "有人吗" and frame["sender"] == "visitor"
    await console.disconnect()


def test_the_channel_visitor_is_one_row_even_when_two_requests_create_it_at_once(enterprise, monkeypatch):
    from chat import services as chat_services
    from chat.services import visitors as visitor_services

    first, created = chat_services.channel_visitor_get_or_create(
        enterprise=enterprise, channel="wechat", public_id="wx-abc", name="A"
    )
    assert created and first.channel == "wechat"
    # The other request looked before this one inserted: its INSERT collides and it reads the winner's row.
    real_filter = visitor_services.Visitor.objects.filter

    class Missed:
        def select_related(self, *_args: Any) -> Missed:
            return self

        def first(self) -> None:
            return None

    calls = iter([Missed()])
    monkeypatch.setattr(
        visitor_services.Visitor.objects, "filter", lambda *a, **kw: next(calls, None) or real_filter(*a, **kw)
    )
    second, created_again = chat_services.channel_visitor_get_or_create(
        enterprise=enterprise, channel="wechat", public_id="wx-abc", name="B"
    )
    assert (second.pk, created_again) == (first.pk, False) and Visitor.objects.count() == 1


def test_an_agent_message_without_an_agent_is_refused_unless_it_is_an_automatic_one(enterprise):
    from chat import services as chat_services

    visitor, _created = chat_services.channel_visitor_get_or_create(
        enterprise=enterprise, channel="wechat", public_id="wx-def", name="A"
    )
    new = chat_services.NewMessage(visitor, Message.Sender.AGENT, "hi", "c-1", meta={"auto": "greeting"})
    [refused] = chat_services.messages_create([new])
    assert isinstance(refused, Exception) and not Message.objects.exists()
    message, created = chat_services.message_automatic_create(
        visitor=visitor, content="hi", client_id="c-1", meta={"auto": "greeting"}
    )
    assert created and message.agent is None and message.sender == Message.Sender.AGENT
