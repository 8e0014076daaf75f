"""A reply that WeChat's 48-hour window keeps from a follower: a template message tells them there is one (at
most once per follower per window), and the agent reads so on the message (wechat/alerts.py, outbound.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from asgiref.sync import async_to_sync
from django.utils import timezone

from accounts.models import User
from chat.models import Message
from chat.realtime.presence import VISITOR, Presence, get_presence
from chat.services import NewMessage, messages_create
from wechat import outbound
from wechat.models import WechatAccount, WechatDelivery, WechatFollower

from .fakeserver import CUSTOM_SEND_PATH, TEMPLATE_SEND_PATH, FakeWechat
from .test_outbound import delivery_frames, due_now, make_follower, reply, settle

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("wechat_keys", "english_platform")]

TPL_REPLY = "R" * 20 + "_reply-template_abc" + "r" * 4  # 43 characters
Status = WechatDelivery.Status


def templates_sent(fake: FakeWechat) -> list[dict[str, Any]]:
    return [
        call.json
        for call in fake.calls(TEMPLATE_SEND_PATH)
        if isinstance(call.answer, dict) and call.answer.get("errcode") == 0
    ]


@pytest.fixture
def account(wechat_account: WechatAccount) -> WechatAccount:
    WechatAccount.objects.filter(pk=wechat_account.pk).update(template_reply=TPL_REPLY, template_remark="Thanks!")
    wechat_account.refresh_from_db()
    return wechat_account


@pytest.fixture
def away(enterprise: Any, account: WechatAccount, fake_wechat: FakeWechat) -> WechatFollower:
    """A follower who last wrote 49 hours ago: the customer-service window is closed."""
    return make_follower(enterprise, account, fake_wechat, last_inbound_at=timezone.now() - timedelta(hours=49))


def test_a_reply_outside_the_window_sends_the_reply_template_and_the_agent_sees_it_on_the_message(
    enterprise: Any, agent: User, away: WechatFollower, fake_wechat: FakeWechat, published: Any, settings: Any
) -> None:
    message = reply(away.visitor, agent, "您的订单已发货", "c1")
    settle()
    assert fake_wechat.count(CUSTOM_SEND_PATH) == 0  # the window is closed: not asked
    [tpl] = templates_sent(fake_wechat)
    assert tpl["touser"] == away.openid and tpl["template_id"] == TPL_REPLY
    link = urlsplit(tpl["url"])
    assert f"{link.scheme}://{link.netloc}" == settings.GOFLY["SITE_URL"] and link.path == "/chatIndex"
    assert parse_qs(link.query) == {"ent_id": [str(enterprise.pk)], "kefu_id": [agent.username]}
    data = tpl["data"]
    assert data["first"]["value"] == "You have a new reply. Tap to read it."
    assert data["keyword1"]["value"] == enterprise.name
    assert data["keyword2"]["value"] == "您的订单已发货"
    assert data["keyword3"]["value"] == timezone.localtime(message.created_at).strftime("%Y-%m-%d %H:%M")
    assert data["remark"]["value"] == "Thanks!"
    delivery = WechatDelivery.objects.get(message=message)
    assert delivery.status == Status.FAILED and "48-hour" in delivery.reason
    assert "template message told the follower" in delivery.reason
    [(_group, frame)] = delivery_frames(published)
    assert frame["status"] == "failed" and frame["notice"] == "template" and frame["reason"] == delivery.reason
    message.refresh_from_db()
    assert message.meta is not None and message.meta["delivery"]["notice"] == "template"  # history shows it too
    away.refresh_from_db()
    assert away.reply_alerted_at is not None


def test_at_most_one_reply_template_per_follower_per_window(
    enterprise: Any, agent: User, away: WechatFollower, fake_wechat: FakeWechat, published: Any
) -> None:
    reply(away.visitor, agent, "one", "c1")
    settle()
    second = reply(away.visitor, agent, "two", "c2")
    settle()
    assert len(templates_sent(fake_wechat)) == 1
    delivery = WechatDelivery.objects.get(message=second)
    assert delivery.status == Status.FAILED and "template" not in delivery.reason
    assert "notice" not in delivery_frames(published)[-1][1]
    # The window passes: the next reply tells them again.
    WechatFollower.objects.filter(pk=away.pk).update(reply_alerted_at=timezone.now() - timedelta(minutes=6))
    reply(away.visitor, agent, "three", "c3")
    settle()
    assert [tpl["data"]["keyword2"]["value"] for tpl in templates_sent(fake_wechat)] == ["one", "three"]


def test_wechats_45015_inside_our_window_also_sends_the_reply_template(
    enterprise: Any, agent: User, account: WechatAccount, fake_wechat: FakeWechat, published: Any
) -> None:
    follower = make_follower(enterprise, account, fake_wechat)
    fake_wechat.fail_outside_window(follower.openid)
    message = reply(follower.visitor, agent, "hello", "c1")
    settle()
    assert [tpl["touser"] for tpl in templates_sent(fake_wechat)] == [follower.openid]
    delivery = WechatDelivery.objects.get(message=message)
    assert (delivery.status, delivery.errcode) == (Status.FAILED, 45015) and "template message" in delivery.reason
    assert delivery_frames(published)[-1][1]["notice"] == "template"


def test_inside_the_window_a_reply_is_sent_and_no_template_goes(
    enterprise: Any, agent: User, account: WechatAccount, fake_wechat: FakeWechat
) -> None:
    follower = make_follower(enterprise, account, fake_wechat)
    message = reply(follower.visitor, agent, "hello", "c1")
    settle()
    assert WechatDelivery.objects.get(message=message).status == Status.SENT
    assert fake_wechat.count(TEMPLATE_SEND_PATH) == 0


def test_an_internal_note_never_tells_the_follower(
    enterprise: Any, agent: User, away: WechatFollower, fake_wechat: FakeWechat
) -> None:
    reply(away.visitor, agent, "warm up", "c0")  # opens the conversation (and tells them once)
    settle()
    WechatFollower.objects.filter(pk=away.pk).update(reply_alerted_at=None)
    note = messages_create([NewMessage(away.visitor, "note", "VIP, call back", "n1", agent)])[0]
    assert not isinstance(note, Exception)
    settle()
    assert len(templates_sent(fake_wechat)) == 1
    assert not WechatDelivery.objects.filter(message__sender=Message.Sender.NOTE).exists()


def test_no_template_id_no_notice_and_the_reason_says_only_why(
    enterprise: Any, agent: User, away: WechatFollower, fake_wechat: FakeWechat, published: Any
) -> None:
    WechatAccount.objects.filter(pk=away.account_id).update(template_reply="")
    message = reply(away.visitor, agent, "hello", "c1")
    settle()
    assert fake_wechat.count(TEMPLATE_SEND_PATH) == 0
    delivery = WechatDelivery.objects.get(message=message)
    assert delivery.status == Status.FAILED and "template" not in delivery.reason
    assert "notice" not in delivery_frames(published)[-1][1]


def test_a_follower_reading_the_chat_page_or_unfollowed_gets_no_template(
    enterprise: Any, agent: User, account: WechatAccount, away: WechatFollower, fake_wechat: FakeWechat
) -> None:
    async_to_sync(get_presence().join)(Presence(enterprise.pk, VISITOR, away.visitor_id, "visitor-channel"))
    reply(away.visitor, agent, "you are here", "c1")
    settle()
    gone = make_follower(enterprise, account, fake_wechat, subscribed=False, last_inbound_at=None)
    reply(gone.visitor, agent, "you left", "c2")
    settle()
    assert fake_wechat.count(TEMPLATE_SEND_PATH) == 0


def test_an_account_without_active_messages_sends_no_template(
    enterprise: Any, agent: User, away: WechatFollower, fake_wechat: FakeWechat
) -> None:
    WechatAccount.objects.filter(pk=away.account_id).update(active_messages_allowed=False)
    reply(away.visitor, agent, "hello", "c1")
    settle()
    assert fake_wechat.count(TEMPLATE_SEND_PATH) == 0


def test_a_failed_template_gives_the_window_back_so_the_next_reply_tries_again(
    enterprise: Any, agent: User, away: WechatFollower, fake_wechat: FakeWechat
) -> None:
    fake_wechat.fail_errcode(40037, "invalid template_id", path=TEMPLATE_SEND_PATH)
    first = reply(away.visitor, agent, "one", "c1")
    settle()
    away.refresh_from_db()
    assert away.reply_alerted_at is None
    assert "template" not in WechatDelivery.objects.get(message=first).reason
    reply(away.visitor, agent, "two", "c2")
    settle()
    assert [tpl["data"]["keyword2"]["value"] for tpl in templates_sent(fake_wechat)] == ["two"]


def test_a_busy_or_unreachable_wechat_keeps_the_reply_pending_until_the_template_goes(
    enterprise: Any, agent: User, away: WechatFollower, fake_wechat: FakeWechat, published: Any
) -> None:
    fake_wechat.fail_server_error(times=1, path=TEMPLATE_SEND_PATH)
    message = reply(away.visitor, agent, "do not lose me", "c1")
    settle()
    delivery = WechatDelivery.objects.get(message=message)
    assert delivery.status == Status.PENDING and delivery.next_attempt_at is not None
    assert "once WeChat answers" in delivery.reason
    away.refresh_from_db()
    assert away.reply_alerted_at is None  # the window was given back
    fake_wechat.fail_rate_limit(times=1, path=TEMPLATE_SEND_PATH)
    due_now(delivery)
    assert outbound.deliveries_sweep() == 0
    assert WechatDelivery.objects.get(pk=delivery.pk).status == Status.PENDING
    due_now(delivery)
    outbound.deliveries_sweep()
    delivery.refresh_from_db()
    assert delivery.status == Status.FAILED and "template message told" in delivery.reason
    assert [tpl["data"]["keyword2"]["value"] for tpl in templates_sent(fake_wechat)] == ["do not lose me"]
    assert [(data["status"], data.get("notice")) for _group, data in delivery_frames(published)] == [
        ("pending", None),
        ("pending", None),
        ("failed", "template"),
    ]
