"""WeChat's callback URL: the URL check, and what it refuses before anything is parsed or stored (bad
signature, replay, oversized, malformed or DOCTYPE bodies, another account's key), driven by the fake
WeChat's signed and encrypted callbacks."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from wechatpy.crypto import WeChatCrypto

from chat.models import Message, Visitor
from wechat.callback import BODY_MAX
from wechat.models import MessageMode, WechatAccount, WechatFollower
from wechat.services import wechat_account_save

from . import fakeserver as fw
from .fakeserver import FakeWechat, new_account, signature_query, signed_callback

pytestmark = pytest.mark.django_db


def callback_path(account: WechatAccount) -> str:
    return reverse("wechat_callback", kwargs={"callback_key": account.callback_key})


def post(client: Client, account: WechatAccount, signed: fw.SignedCallback) -> Any:
    return client.post(signed.path_with_query(callback_path(account)), signed.body, content_type="text/xml")


def deliver(client: Client, fake: FakeWechat, account: WechatAccount, xml: str, **options: Any) -> Any:
    mode = options.pop("mode", account.message_mode)
    return post(client, account, fake.signed(xml, mode, **options))


def text(fake: FakeWechat, openid: str, content: str = "你好", **kw: Any) -> str:
    return fw.text_xml(to=fake.account.original_id, openid=openid, content=content, **kw)


def stored() -> list[Message]:
    return list(Message.objects.order_by("pk"))


def test_the_url_check_echoes_echostr_only_under_a_good_signature(client, fake_wechat, wechat_account):
    path = callback_path(wechat_account)
    good = {**signature_query(fake_wechat.account.token), "echostr": "1234567890"}
    answer = client.get(path, good)
    assert answer.status_code == 200 and answer.content == b"1234567890"
    assert not answer.cookies
    bad = {**signature_query("x" * 32), "echostr": "1234567890"}
    refused = client.get(path, bad)
    assert refused.status_code == 403 and b"1234567890" not in refused.content
    stale = {**signature_query(fake_wechat.account.token, timestamp=str(int(time.time()) - 400)), "echostr": "1"}
    assert client.get(path, stale).status_code == 403


def test_the_fake_wechats_own_url_check_passes_over_http(live_server, fake_wechat, wechat_account):
    status, body = fake_wechat.verify(live_server.url + callback_path(wechat_account), echostr="987654321")
    assert (status, body) == (200, b"987654321")


def test_an_unknown_or_disabled_key_is_a_missing_page(client, fake_wechat, wechat_account, wechat_boss):
    openid = fake_wechat.add_follower()
    signed = fake_wechat.signed(text(fake_wechat, openid), "safe")
    assert (
        client.post(signed.path_with_query("/wechat/nosuchkey"), signed.body, content_type="text/xml").status_code
        == 404
    )
    wechat_account.is_enabled = False
    wechat_account.save(update_fields=["is_enabled"])
    assert post(client, wechat_account, signed).status_code == 404
    assert stored() == []


@pytest.mark.parametrize("mode", ["plaintext", "compatible", "safe"])
def test_a_signed_message_is_answered_success_and_stored(client, fake_wechat, wechat_account, mode):
    wechat_account.message_mode = mode
    wechat_account.save(update_fields=["message_mode"])
    openid = fake_wechat.add_follower()
    answer = deliver(client, fake_wechat, wechat_account, text(fake_wechat, openid, "在吗"), mode=mode)
    assert answer.status_code == 200 and answer.content == b"success"
    assert not answer.cookies and "Set-Cookie" not in answer.headers
    [message] = stored()
    assert message.content == "在吗" and message.sender == Message.Sender.VISITOR


def test_a_bad_signature_stores_nothing(client, fake_wechat, wechat_account):
    wechat_account.message_mode = MessageMode.PLAINTEXT
    wechat_account.save(update_fields=["message_mode"])
    openid = fake_wechat.add_follower()
    signed = fake_wechat.signed(text(fake_wechat, openid))
    forged = fw.SignedCallback({**signed.query, "signature": "0" * 40}, signed.body)
    assert post(client, wechat_account, forged).status_code == 403
    # Signed right, then changed: the signature does not cover a plaintext body, but safe mode's does.
    wechat_account.message_mode = MessageMode.SAFE
    wechat_account.save(update_fields=["message_mode"])
    safe = fake_wechat.signed(text(fake_wechat, openid), "safe")
    tampered = fw.SignedCallback({**safe.query, "msg_signature": "0" * 40}, safe.body)
    assert post(client, wechat_account, tampered).status_code == 403
    assert stored() == [] and not Visitor.objects.exists()


def test_safe_mode_refuses_a_plaintext_message(client, fake_wechat, wechat_account):
    openid = fake_wechat.add_follower()
    answer = deliver(client, fake_wechat, wechat_account, text(fake_wechat, openid), mode="plaintext")
    assert answer.status_code == 403 and stored() == []


def test_another_accounts_encryption_does_not_decrypt_here(client, fake_wechat, wechat_account):
    stranger = new_account()
    openid = fake_wechat.add_follower()
    # Signed with our token but encrypted for another AppID and key: refused, nothing stored.
    mixed = fw.FakeAccount(
        stranger.app_id, stranger.app_secret, fake_wechat.account.token, stranger.encoding_aes_key, "gh_x"
    )
    answer = post(client, wechat_account, signed_callback(text(fake_wechat, openid), mixed, mode="safe"))
    assert answer.status_code in (400, 403) and stored() == []


def test_a_replayed_callback_is_refused(client, fake_wechat, wechat_account):
    openid = fake_wechat.add_follower()
    old = str(int(time.time()) - 301)
    assert deliver(client, fake_wechat, wechat_account, text(fake_wechat, openid), timestamp=old).status_code == 403
    future = str(int(time.time()) + 400)
    assert deliver(client, fake_wechat, wechat_account, text(fake_wechat, openid), timestamp=future).status_code == 403
    assert stored() == []
    first = deliver(client, fake_wechat, wechat_account, text(fake_wechat, openid, "一"), nonce="1234567")
    assert first.status_code == 200
    again = deliver(client, fake_wechat, wechat_account, text(fake_wechat, openid, "二"), nonce="1234567")
    assert again.status_code == 403
    assert [m.content for m in stored()] == ["一"]


def test_a_nonce_is_per_account(client, fake_wechat, wechat_account, other_enterprise):
    from accounts.permissions import ROLE_ENTERPRISE_ADMIN
    from accounts.services import agent_create
    from tests.conftest import AGENT_PASSWORD

    boss = agent_create(
        enterprise=other_enterprise,
        username="otherboss",
        password=AGENT_PASSWORD,
        nickname="B",
        role=ROLE_ENTERPRISE_ADMIN,
    )
    theirs = fake_wechat.add_account()
    other = wechat_account_save(
        actor=boss,
        app_id=theirs.app_id,
        app_secret=theirs.app_secret,
        token=theirs.token,
        encoding_aes_key=theirs.encoding_aes_key,
        message_mode=MessageMode.SAFE,
        greeting="",
        greeting_en="",
        is_enabled=True,
    )
    openid = fake_wechat.add_follower()
    ours = deliver(client, fake_wechat, wechat_account, text(fake_wechat, openid), nonce="55555")
    assert ours.status_code == 200
    xml = fw.text_xml(to=theirs.original_id, openid=openid, content="hi")
    assert post(client, other, signed_callback(xml, theirs, mode="safe", nonce="55555")).status_code == 200


def test_another_enterprises_key_cannot_store_into_this_one(client, fake_wechat, wechat_account, other_enterprise):
    from accounts.permissions import ROLE_ENTERPRISE_ADMIN
    from accounts.services import agent_create
    from tests.conftest import AGENT_PASSWORD

    boss = agent_create(
        enterprise=other_enterprise,
        username="otherboss",
        password=AGENT_PASSWORD,
        nickname="B",
        role=ROLE_ENTERPRISE_ADMIN,
    )
    theirs = fake_wechat.add_account()
    other = wechat_account_save(
        actor=boss,
        app_id=theirs.app_id,
        app_secret=theirs.app_secret,
        token=theirs.token,
        encoding_aes_key=theirs.encoding_aes_key,
        message_mode=MessageMode.SAFE,
        greeting="",
        greeting_en="",
        is_enabled=True,
    )
    openid = fake_wechat.add_follower()
    # Our account's message, signed with our token, posted to their URL: their token does not verify it.
    answer = post(client, other, fake_wechat.signed(text(fake_wechat, openid), "safe"))
    assert answer.status_code == 403 and stored() == []
    # Their own message on their URL lands in their enterprise only.
    xml = fw.text_xml(to=theirs.original_id, openid=openid, content="theirs")
    assert post(client, other, signed_callback(xml, theirs, mode="safe")).status_code == 200
    [message] = stored()
    assert message.enterprise_id == other_enterprise.pk
    assert WechatFollower.objects.get().account_id == other.pk


def _raw(client: Client, fake: FakeWechat, account: WechatAccount, body: bytes, mode: str = "plaintext") -> Any:
    query = signature_query(fake.account.token)
    return client.post(
        fw.SignedCallback(query, body).path_with_query(callback_path(account)), body, content_type="text/xml"
    )


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not xml at all",
        b"<xml><ToUserName>unclosed",
        b"<xml></xml>",
        b"<xml><MsgType>text</MsgType></xml>",
        b"<other><a>1</a></other>",
        "<xml><Content>\u4f60</Content></xml>".encode("gb18030") + b"\xff\xfe",
        b"\xef\xbb\xbf<xml><Content>bom</Content></xml>",
    ],
)
def test_a_malformed_body_is_refused_with_a_4xx(client, fake_wechat, wechat_account, body):
    wechat_account.message_mode = MessageMode.PLAINTEXT
    wechat_account.save(update_fields=["message_mode"])
    answer = _raw(client, fake_wechat, wechat_account, body)
    assert 400 <= answer.status_code < 500 and stored() == []


@pytest.mark.parametrize("mode", ["plaintext", "safe"])
def test_a_doctype_or_entity_is_refused_before_parsing(client, fake_wechat, wechat_account, mode):
    wechat_account.message_mode = mode
    wechat_account.save(update_fields=["message_mode"])
    openid = fake_wechat.add_follower()
    bomb = '<!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>' + text(
        fake_wechat, openid, "&b;"
    ).replace("<![CDATA[&b;]]>", "&b;")
    query = signature_query(fake_wechat.account.token)
    body = bomb.encode()
    if mode == "safe":  # the bomb inside a well-signed envelope: refused after decrypting, before parsing
        known = fake_wechat.account
        crypto = WeChatCrypto(known.token, known.encoding_aes_key, known.app_id)
        envelope = crypto.encrypt_message(bomb, query["nonce"], query["timestamp"])
        encrypted = envelope.split("<Encrypt><![CDATA[")[1].split("]]>")[0]
        query.update(
            encrypt_type="aes", msg_signature=fw._sha1(known.token, query["timestamp"], query["nonce"], encrypted)
        )
        body = fw.message_xml({"ToUserName": known.original_id, "Encrypt": encrypted}).encode()
    answer = post(client, wechat_account, fw.SignedCallback(query, body))
    assert (answer.status_code, answer.content) == (400, b"DOCTYPE or entity") and stored() == []


def test_even_a_harmless_doctype_is_refused(client, fake_wechat, wechat_account):
    wechat_account.message_mode = MessageMode.PLAINTEXT
    wechat_account.save(update_fields=["message_mode"])
    openid = fake_wechat.add_follower()
    body = ("<!doctype xml>" + text(fake_wechat, openid, "hi")).encode()
    answer = _raw(client, fake_wechat, wechat_account, body)
    assert (answer.status_code, answer.content) == (400, b"DOCTYPE or entity") and stored() == []


def test_a_message_not_in_utf8_is_refused(client, fake_wechat, wechat_account):
    wechat_account.message_mode = MessageMode.PLAINTEXT
    wechat_account.save(update_fields=["message_mode"])
    openid = fake_wechat.add_follower()
    body = text(fake_wechat, openid, "你好").encode("gb18030")
    answer = _raw(client, fake_wechat, wechat_account, body)
    assert (answer.status_code, answer.content) == (400, b"not UTF-8") and stored() == []


def test_an_oversized_body_is_refused(client, fake_wechat, wechat_account):
    wechat_account.message_mode = MessageMode.PLAINTEXT
    wechat_account.save(update_fields=["message_mode"])
    openid = fake_wechat.add_follower()
    huge = text(fake_wechat, openid, "长" * (BODY_MAX // 3 + 10))
    assert len(huge.encode()) > BODY_MAX
    assert deliver(client, fake_wechat, wechat_account, huge).status_code == 413
    assert stored() == []


def test_other_methods_are_refused(client, fake_wechat, wechat_account):
    assert client.put(callback_path(wechat_account), b"<xml/>").status_code == 405


def test_a_callback_that_failed_to_store_is_taken_when_wechat_sends_it_again(
    client, fake_wechat, wechat_account, monkeypatch
):
    """WeChat retries the very same request (same nonce): a first attempt that stored nothing (the database
    away) must not make the retry look like a replay, and the message is stored once."""
    from django.db import OperationalError

    from wechat import inbound

    openid = fake_wechat.add_follower()
    signed = fake_wechat.signed(text(fake_wechat, openid, "在吗"), wechat_account.message_mode, nonce="7654321")
    real = inbound.callback_receive

    def away(**kwargs: Any) -> None:
        raise OperationalError("the database went away")

    monkeypatch.setattr(inbound, "callback_receive", away)
    with pytest.raises(OperationalError):
        post(client, wechat_account, signed)
    assert stored() == []
    monkeypatch.setattr(inbound, "callback_receive", real)
    assert post(client, wechat_account, signed).status_code == 200
    assert post(client, wechat_account, signed).status_code == 403  # taken now: a third is a replay
    assert [m.content for m in stored()] == ["在吗"]


def test_a_follower_over_the_message_rate_is_asked_to_resend_not_dropped(client, fake_wechat, wechat_account, settings):
    settings.GOFLY = {**settings.GOFLY, "RATE_VISITOR_MESSAGES": (1, 10)}
    openid = fake_wechat.add_follower()
    assert deliver(client, fake_wechat, wechat_account, text(fake_wechat, openid, "一")).status_code == 200
    second = fake_wechat.signed(text(fake_wechat, openid, "二"), wechat_account.message_mode)
    assert post(client, wechat_account, second).status_code == 503  # WeChat sends it again
    assert [m.content for m in stored()] == ["一"]
    settings.GOFLY = {**settings.GOFLY, "RATE_VISITOR_MESSAGES": (100, 10)}
    assert post(client, wechat_account, second).status_code == 200
    assert [m.content for m in stored()] == ["一", "二"]
