"""What GoFly sends to WeChat followers (wechat/outbound.py), against the fake WeChat: written with the message,
sent once after the commit, retried by the sweep, and its outcome shown to agents."""

from __future__ import annotations

import asyncio
import io
import threading
from datetime import timedelta
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from PIL import Image

from accounts.models import User
from accounts.tokens import AgentAccessToken
from chat import hooks
from chat.frames import group_agents
from chat.models import Message, Visitor
from chat.services import NewMessage, channel_visitor_get_or_create, messages_create
from chat.services.messages import message_automatic_create
from chat.uploads import upload_store
from replies.services import canned_reply_create, keyword_rule_create
from tests.chat.wsutil import agent_socket, connect_ready, recv_type, send
from tests.conftest import login_visitor
from wechat import outbound
from wechat.models import WechatAccount, WechatDelivery, WechatFollower

from .fakeserver import CUSTOM_SEND_PATH, TOKEN_PATH, FakeWechat

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("wechat_keys", "english_platform")]

UPLOAD_PATH = "/cgi-bin/media/upload"
Status = WechatDelivery.Status


def make_follower(enterprise: Any, account: WechatAccount, fake: FakeWechat, **fields: Any) -> WechatFollower:
    """A follower as the callback makes one: a visitor of channel "wechat", inside the 48-hour window."""
    openid = fake.add_follower()
    visitor, _created = channel_visitor_get_or_create(
        enterprise=enterprise, channel="wechat", public_id=f"wx.{openid}", name="微信用户"
    )
    values = {"subscribed": True, "last_inbound_at": timezone.now(), **fields}
    return WechatFollower.objects.create(
        enterprise=enterprise, account=account, openid=openid, visitor=visitor, **values
    )


@pytest.fixture
def follower(enterprise, wechat_account, fake_wechat) -> WechatFollower:
    return make_follower(enterprise, wechat_account, fake_wechat)


def reply(visitor: Visitor, agent: User, content: str, client_id: str, **extra: Any) -> Message:
    result = messages_create([NewMessage(visitor, "agent", content, client_id, agent, **extra)])[0]
    assert not isinstance(result, Exception), result
    return result[0]


def sent_texts(fake: FakeWechat) -> list[tuple[str, str]]:
    """(openid, text) of every text the fake's customer-service endpoint accepted."""
    return [
        (call.json["touser"], call.json["text"]["content"])
        for call in fake.calls(CUSTOM_SEND_PATH)
        if call.json.get("msgtype") == "text" and isinstance(call.answer, dict) and call.answer.get("errcode") == 0
    ]


def settle() -> None:
    assert outbound.sender_idle(10), "the WeChat sender did not finish"


def due_now(delivery: WechatDelivery) -> None:
    """Time passes: the delivery's next attempt (or its lease) is due."""
    WechatDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))


def delivery_frames(published: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    return [(group, frame["data"]) for group, frame in published if frame["type"] == "message.delivery"]


@pytest.fixture
def no_sender(monkeypatch):
    """This process dies right after the commit: nothing is handed to its sender (the sweep must do it)."""
    hooks.messages_committed.disconnect(outbound.deliveries_submit)
    yield
    hooks.messages_committed.connect(outbound.deliveries_submit)


# --- what goes, once ------------------------------------------------------------------------------------


def test_an_agents_reply_reaches_the_follower_exactly_once_and_is_recorded_sent(
    enterprise, agent, follower, fake_wechat, published
):
    message = reply(follower.visitor, agent, "您好，请问有什么可以帮您？", "c1")
    settle()
    assert sent_texts(fake_wechat) == [(follower.openid, "您好，请问有什么可以帮您？")]
    delivery = WechatDelivery.objects.get(message=message)
    assert (delivery.status, delivery.attempts, delivery.follower_id) == (Status.SENT, 1, follower.pk)
    assert delivery.sent_at is not None and delivery.enterprise_id == enterprise.pk
    assert outbound.deliveries_sweep() == 0  # a later sweep sends nothing again
    assert fake_wechat.count(CUSTOM_SEND_PATH) == 1
    assert delivery_frames(published) == [
        (
            group_agents(enterprise.pk),
            {
                "message_id": message.pk,
                "visitor_id": follower.visitor.visitor_id,
                "channel": "wechat",
                "status": "sent",
                "errcode": None,
                "reason": "",
            },
        )
    ]
    message.refresh_from_db()
    assert message.meta is None  # a first-time success leaves the message as it was


async def test_a_reply_sent_on_the_agent_socket_goes_to_wechat_and_the_console_hears_its_delivery(
    enterprise, agent, follower, fake_wechat
):
    ws = agent_socket(jwt=str(AgentAccessToken.for_user(agent)))
    await connect_ready(ws)
    await send(ws, "message.send", {"visitor_id": follower.visitor.visitor_id, "content": "hello", "client_id": "w1"})
    ack = await recv_type(ws, "message.ack")
    delivery = await recv_type(ws, "message.delivery", timeout=10)
    assert delivery == {
        "message_id": ack["id"],
        "visitor_id": follower.visitor.visitor_id,
        "channel": "wechat",
        "status": "sent",
        "errcode": None,
        "reason": "",
    }
    assert sent_texts(fake_wechat) == [(follower.openid, "hello")]
    await ws.disconnect()


def test_two_processes_sweeping_at_once_send_each_pending_reply_once(
    enterprise, agent, follower, fake_wechat, no_sender
):
    for n in range(6):
        reply(follower.visitor, agent, f"reply {n}", f"c{n}")
    assert WechatDelivery.objects.filter(status=Status.PENDING).count() == 6
    start = threading.Barrier(2)
    counts: list[int] = []

    def process() -> None:
        start.wait()
        try:
            counts.append(outbound.deliveries_sweep())
        finally:
            connection.close()

    threads = [threading.Thread(target=process) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sum(counts) == 6
    assert sorted(text for _openid, text in sent_texts(fake_wechat)) == [f"reply {n}" for n in range(6)]
    assert fake_wechat.count(CUSTOM_SEND_PATH) == 6
    assert set(WechatDelivery.objects.values_list("status", "attempts")) == {(Status.SENT, 1)}


def test_a_claimed_delivery_is_left_to_its_claimer_until_its_lease_runs_out(
    enterprise, agent, follower, fake_wechat, no_sender
):
    message = reply(follower.visitor, agent, "once", "c1")
    delivery = WechatDelivery.objects.get(message=message)
    assert outbound._claim(delivery.pk, timezone.now())  # another process took it, then died
    assert not outbound._claim(delivery.pk, timezone.now())
    assert outbound.deliveries_sweep() == 0 and fake_wechat.count(CUSTOM_SEND_PATH) == 0
    due_now(delivery)  # its lease ran out
    assert outbound.deliveries_sweep() == 1
    assert sent_texts(fake_wechat) == [(follower.openid, "once")]
    assert WechatDelivery.objects.get(pk=delivery.pk).attempts == 2


def test_an_internal_note_and_the_followers_own_messages_never_go_to_wechat(enterprise, agent, follower, fake_wechat):
    visitor = follower.visitor
    mine = messages_create([NewMessage(visitor, "visitor", "我想问一下", "v1")])[0]
    answered = reply(visitor, agent, "public answer", "c1")
    note = messages_create([NewMessage(visitor, "note", "secret note: VIP", "n1", agent)])[0]
    assert not isinstance(note, Exception) and not isinstance(mine, Exception)
    settle()
    assert sent_texts(fake_wechat) == [(follower.openid, "public answer")]
    assert list(WechatDelivery.objects.values_list("message_id", flat=True)) == [answered.pk]


def test_a_web_visitors_messages_make_no_delivery_and_cost_no_query(enterprise, agent, django_assert_num_queries):
    visitor = login_visitor(enterprise, agent).visitor
    first = reply(visitor, agent, "warm up", "c0")  # opens the conversation
    batch = [reply(visitor, agent, "second", "c1"), first]
    with django_assert_num_queries(0):
        assert outbound.deliveries_store(batch) == []
        outbound.deliveries_submit(batch)

    def queries_of(client_id: str) -> list[str]:
        with CaptureQueriesContext(connection) as queries:
            reply(visitor, agent, "more", client_id)
        return [q["sql"] for q in queries.captured_queries]

    with_wechat = queries_of("c2")
    hooks.messages_stored.disconnect(outbound.deliveries_store)
    try:
        without_wechat = queries_of("c3")
    finally:
        hooks.messages_stored.connect(outbound.deliveries_store)
    assert len(with_wechat) == len(without_wechat)
    assert not any("wechat" in sql for sql in with_wechat)
    assert not WechatDelivery.objects.exists()
    settle()


def test_a_batch_with_followers_finds_their_followers_in_one_query(
    enterprise, agent, wechat_account, fake_wechat, no_sender
):
    followers = [make_follower(enterprise, wechat_account, fake_wechat) for _ in range(3)]
    for n, one in enumerate(followers):
        reply(one.visitor, agent, "warm up", f"w{n}")
    stored = messages_create([NewMessage(one.visitor, "agent", "hi", "c1", agent) for one in followers])
    messages = [result[0] for result in stored if not isinstance(result, Exception)]
    WechatDelivery.objects.filter(message__in=messages).delete()
    with CaptureQueriesContext(connection) as queries:
        outbound.deliveries_store(messages)
    wechat = [q["sql"] for q in queries.captured_queries if "wechat_" in q["sql"]]
    assert len([sql for sql in wechat if sql.startswith("SELECT")]) == 1
    assert len([sql for sql in wechat if sql.startswith("INSERT")]) == 1
    assert WechatDelivery.objects.filter(message__in=messages).count() == 3


def test_an_image_reply_is_uploaded_then_sent_as_an_image(enterprise, agent, follower, fake_wechat):
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(out, format="PNG")
    attachment, _created = upload_store(
        visitor=follower.visitor,
        agent=agent,
        upload_id="up-1",
        upload=SimpleUploadedFile("shot.png", out.getvalue(), content_type="image/png"),
    )
    message = reply(follower.visitor, agent, "", "c1", attachment=attachment.key)
    settle()
    uploads = fake_wechat.calls(UPLOAD_PATH)
    assert len(uploads) == 1 and uploads[0].query["type"] == "image"
    media_id = uploads[0].answer["media_id"]
    assert fake_wechat.state.media[media_id][2] == attachment.file.open("rb").read()
    [sent] = fake_wechat.calls(CUSTOM_SEND_PATH)
    assert sent.json == {"touser": follower.openid, "msgtype": "image", "image": {"media_id": media_id}}
    assert WechatDelivery.objects.get(message=message).status == Status.SENT


def test_a_file_a_product_card_and_rich_text_go_as_plain_text_with_links(enterprise, agent, follower, fake_wechat):
    attachment, _created = upload_store(
        visitor=follower.visitor,
        agent=agent,
        upload_id="up-2",
        upload=SimpleUploadedFile("price list.pdf", b"%PDF-1.4 prices", content_type="application/pdf"),
    )
    reply(follower.visitor, agent, "", "f1", attachment=attachment.key)
    settle()
    reply(follower.visitor, agent, 'product[{"title":"Tea","price":"9.90","url":"https://shop.example/tea"}]', "p1")
    settle()
    reply(follower.visitor, agent, "<p>Hello <b>there</b></p><p>a &amp; b</p>", "r1")
    settle()
    texts = [text for _openid, text in sent_texts(fake_wechat)]
    assert texts[0].startswith("price list.pdf\nhttp") and texts[0].endswith(f"/{attachment.key}")
    assert texts[1:] == ["Tea\n9.90\nhttps://shop.example/tea", "Hello there\na & b"]


def test_a_long_text_goes_in_parts_that_wechat_accepts(enterprise, agent, follower, fake_wechat):
    text = "长" * 1500  # 4500 bytes: over WeChat's 2048
    reply(follower.visitor, agent, text, "c1")
    settle()
    parts = [part for _openid, part in sent_texts(fake_wechat)]
    assert "".join(parts) == text and all(len(part.encode()) <= 2048 for part in parts) and len(parts) == 3


# --- refusals and retries ------------------------------------------------------------------------------


def test_wechats_45015_fails_the_delivery_with_its_reason_and_the_agents_hear_it(
    enterprise, agent, follower, fake_wechat, published
):
    fake_wechat.fail_outside_window(follower.openid)
    message = reply(follower.visitor, agent, "too late", "c1")
    settle()
    delivery = WechatDelivery.objects.get(message=message)
    assert (delivery.status, delivery.errcode) == (Status.FAILED, 45015)
    assert "48 hours" in delivery.reason
    [(group, data)] = delivery_frames(published)
    assert group == group_agents(enterprise.pk)
    assert (data["message_id"], data["status"], data["errcode"], data["reason"]) == (
        message.pk,
        "failed",
        45015,
        delivery.reason,
    )
    assert outbound.deliveries_sweep() == 0 and fake_wechat.count(CUSTOM_SEND_PATH) == 1  # never tried again


def test_outside_the_48_hour_window_the_delivery_fails_without_asking_wechat(
    enterprise, agent, wechat_account, fake_wechat, published
):
    late = make_follower(enterprise, wechat_account, fake_wechat, last_inbound_at=timezone.now() - timedelta(hours=49))
    never = make_follower(enterprise, wechat_account, fake_wechat, last_inbound_at=None)
    for one in (late, never):
        message = reply(one.visitor, agent, "hello?", "c1")
        settle()
        delivery = WechatDelivery.objects.get(message=message)
        assert (delivery.status, delivery.errcode) == (Status.FAILED, None) and "48-hour" in delivery.reason
    assert fake_wechat.count(CUSTOM_SEND_PATH) == 0
    assert [data["status"] for _group, data in delivery_frames(published)] == ["failed", "failed"]


def test_an_account_without_active_messages_fails_the_delivery_without_asking_wechat(
    enterprise, agent, follower, fake_wechat
):
    WechatAccount.objects.filter(pk=follower.account_id).update(active_messages_allowed=False)
    message = reply(follower.visitor, agent, "hello", "c1")
    settle()
    assert WechatDelivery.objects.get(message=message).status == Status.FAILED
    assert fake_wechat.count(CUSTOM_SEND_PATH) == 0


@pytest.mark.parametrize(
    ("errcode", "words"), [(48001, "permission"), (40003, "unknown"), (43004, "unfollowed"), (40099, "some refusal")]
)
def test_wechats_lasting_refusals_fail_with_errcode_and_reason(
    enterprise, agent, follower, fake_wechat, errcode, words
):
    fake_wechat.fail_errcode(errcode, "some refusal", path=CUSTOM_SEND_PATH)
    message = reply(follower.visitor, agent, "hello", "c1")
    settle()
    delivery = WechatDelivery.objects.get(message=message)
    assert (delivery.status, delivery.errcode) == (Status.FAILED, errcode) and words in delivery.reason


def test_a_rate_limited_delivery_is_retried_later_and_then_sent(enterprise, agent, follower, fake_wechat, published):
    fake_wechat.fail_rate_limit(times=1, path=CUSTOM_SEND_PATH)
    before = timezone.now()
    message = reply(follower.visitor, agent, "busy?", "c1")
    settle()
    delivery = WechatDelivery.objects.get(message=message)
    assert (delivery.status, delivery.errcode, delivery.attempts) == (Status.PENDING, 45009, 1)
    assert delivery.next_attempt_at is not None
    assert before + timedelta(seconds=29) <= delivery.next_attempt_at <= timezone.now() + timedelta(seconds=31)
    assert outbound.deliveries_sweep() == 0  # not yet due
    due_now(delivery)
    assert outbound.deliveries_sweep() == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.errcode, delivery.reason) == (Status.SENT, 2, None, "")
    assert sent_texts(fake_wechat) == [(follower.openid, "busy?")]
    assert [data["status"] for _group, data in delivery_frames(published)] == ["pending", "sent"]
    message.refresh_from_db()
    assert message.meta is not None  # history no longer shows the retry:
    assert message.meta["delivery"]["status"] == "sent"


def test_a_busy_wechat_is_retried_with_doubling_delays_and_given_up_after_eight_attempts(
    enterprise, agent, follower, fake_wechat, no_sender
):
    message = reply(follower.visitor, agent, "hello", "c1")
    delivery = WechatDelivery.objects.get(message=message)
    fake_wechat.fail_errcode(-1, "system error", times=outbound.MAX_ATTEMPTS, path=CUSTOM_SEND_PATH)
    delays = []
    for _ in range(outbound.MAX_ATTEMPTS - 1):
        start = timezone.now()
        assert outbound.delivery_attempt(delivery.pk) == Status.PENDING
        delivery.refresh_from_db()
        assert delivery.next_attempt_at is not None
        delays.append(round((delivery.next_attempt_at - start).total_seconds() / 30))
        due_now(delivery)
    assert delays == [1, 2, 4, 8, 16, 32, 60]  # 30 s doubling, at most 30 min
    assert outbound.delivery_attempt(delivery.pk) == Status.FAILED
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.errcode) == (Status.FAILED, 8, -1)
    assert "8 attempts" in delivery.reason


def test_an_invalid_token_is_refreshed_once_and_the_reply_sent(enterprise, agent, follower, fake_wechat):
    reply(follower.visitor, agent, "warm the token", "c0")
    settle()
    tokens = fake_wechat.count(TOKEN_PATH)
    fake_wechat.fail_invalid_token(times=1, path=CUSTOM_SEND_PATH)
    message = reply(follower.visitor, agent, "after the refresh", "c1")
    settle()
    assert fake_wechat.count(TOKEN_PATH) == tokens + 1
    assert sent_texts(fake_wechat)[-1] == (follower.openid, "after the refresh")
    assert WechatDelivery.objects.get(message=message).status == Status.SENT


def test_an_unreachable_wechat_leaves_the_reply_pending_and_the_chore_sends_it(
    enterprise, agent, follower, fake_wechat, published
):
    fake_wechat.fail_server_error(times=1, path=CUSTOM_SEND_PATH)
    message = reply(follower.visitor, agent, "are you there?", "c1")
    settle()
    delivery = WechatDelivery.objects.get(message=message)
    assert (delivery.status, delivery.errcode) == (Status.PENDING, None) and "reached" in delivery.reason
    assert outbound.on_heartbeat in hooks.periodic_chore._receivers
    due_now(delivery)
    outbound._last_sweep = 0.0
    asyncio.run(hooks.periodic_chore.send(None))
    settle()
    assert WechatDelivery.objects.get(pk=delivery.pk).status == Status.SENT
    assert sent_texts(fake_wechat) == [(follower.openid, "are you there?")]


def test_a_failed_delivery_stays_in_the_database_and_in_the_history_the_console_loads(
    enterprise, agent, follower, fake_wechat
):
    fake_wechat.fail_outside_window(follower.openid)
    message = reply(follower.visitor, agent, "lost?", "c1")
    settle()
    assert WechatDelivery.objects.filter(message=message, status=Status.FAILED).exists()
    api = Client(HTTP_AUTHORIZATION=f"Bearer {AgentAccessToken.for_user(agent)}")
    page = api.get(f"/api/v1/agent/visitors/{follower.visitor.visitor_id}/messages").json()
    [shown] = [m for m in page["messages"] if m["id"] == message.pk]
    assert shown["meta"]["delivery"] == {
        "channel": "wechat",
        "status": "failed",
        "errcode": 45015,
        "reason": WechatDelivery.objects.get(message=message).reason,
    }


# --- what GoFly itself sends -----------------------------------------------------------------------------


def test_keyword_auto_replies_and_canned_replies_go_out(enterprise, agent, wechat_boss, follower, fake_wechat):
    keyword_rule_create(agent=wechat_boss, keyword="价格", reply="价格请看菜单。")
    canned = canned_reply_create(agent=agent, scope="personal", title="bye", content="感谢您的咨询！")
    messages_create([NewMessage(follower.visitor, "visitor", "请问价格多少", "v1")])
    settle()
    auto = Message.objects.get(sender="agent", meta__auto="keyword")
    assert WechatDelivery.objects.get(message=auto).status == Status.SENT
    reply(follower.visitor, agent, canned.content, "c1")  # the console sends a canned reply as the agent's text
    settle()
    assert [text for _openid, text in sent_texts(fake_wechat)] == ["价格请看菜单。", "感谢您的咨询！"]


def test_the_follow_greeting_stored_as_an_automatic_message_goes_out(enterprise, follower, fake_wechat):
    message, created = message_automatic_create(
        visitor=follower.visitor, content="欢迎关注！", client_id="greet-1", meta={"auto": "greeting"}
    )
    assert created
    settle()
    assert sent_texts(fake_wechat) == [(follower.openid, "欢迎关注！")]
    assert WechatDelivery.objects.get(message=message).status == Status.SENT


async def test_the_chore_never_blocks_the_event_loop(enterprise, agent, follower, fake_wechat, no_sender):
    await database_sync_to_async(reply)(follower.visitor, agent, "slow", "c1")
    fake_wechat.fail_slow(1.5, path=CUSTOM_SEND_PATH)
    outbound._last_sweep = 0.0
    loop = asyncio.get_running_loop()
    started = loop.time()
    await outbound.on_heartbeat(None)
    assert loop.time() - started < 0.5  # the sweep runs in the sender's threads
    await asyncio.to_thread(settle)


def test_the_delivery_row_is_written_in_the_messages_own_transaction(
    enterprise, agent, follower, fake_wechat, monkeypatch
):
    seen: list[bool] = []
    original = outbound.deliveries_store

    def spy(messages: list[Message]) -> list[Message]:
        seen.append(connection.in_atomic_block)
        return original(messages)

    hooks.messages_stored.disconnect(original)
    hooks.messages_stored.connect(spy)
    try:
        reply(follower.visitor, agent, "hello", "c1")
    finally:
        hooks.messages_stored.disconnect(spy)
        hooks.messages_stored.connect(original)
    settle()
    assert seen == [True]  # a crash after the message's commit finds its delivery committed with it
