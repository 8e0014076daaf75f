"""The fake WeChat itself: it checks the tokens it issued, fails on request, and signs and encrypts callback
messages the way wechatpy (GoFly's callback) verifies and decrypts them."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.utils import check_signature

from . import fakeserver as fw
from .fakeserver import CUSTOM_SEND_PATH, TOKEN_PATH, FakeWechat


@pytest.fixture
def fake():
    server = FakeWechat().start()
    yield server
    server.stop()
    assert server.errors == []


def get(fake: FakeWechat, path: str, **params) -> dict:
    return requests.get(f"{fake.url}{path}", params=params, timeout=5).json()


def token(fake: FakeWechat) -> str:
    account = fake.account
    answer = get(fake, TOKEN_PATH, grant_type="client_credential", appid=account.app_id, secret=account.app_secret)
    assert answer["expires_in"] == 7200
    return answer["access_token"]


def test_the_token_endpoint_checks_appid_and_secret_and_api_calls_check_the_token(fake):
    assert get(fake, TOKEN_PATH, grant_type="client_credential", appid="wx0", secret="x")["errcode"] == 40013
    wrong = get(fake, TOKEN_PATH, grant_type="client_credential", appid=fake.account.app_id, secret="0" * 32)
    assert wrong["errcode"] == 40125
    openid = fake.add_follower()
    assert get(fake, "/cgi-bin/user/info", openid=openid)["errcode"] == 41001
    assert get(fake, "/cgi-bin/user/info", openid=openid, access_token="made-up")["errcode"] == 40001
    issued = token(fake)
    assert get(fake, "/cgi-bin/user/info", openid=openid, access_token=issued)["openid"] == openid
    fake.expire_tokens()
    assert get(fake, "/cgi-bin/user/info", openid=openid, access_token=issued)["errcode"] == 42001
    assert fake.count(TOKEN_PATH) == 3 and fake.calls(TOKEN_PATH)[0].query["appid"] == "wx0"


def test_failures_are_injected_once_each_and_everything_is_recorded(fake):
    issued = token(fake)
    openid = fake.add_follower()
    url = f"{fake.url}{CUSTOM_SEND_PATH}?access_token={issued}"
    body = {"touser": openid, "msgtype": "text", "text": {"content": "hi"}}
    fake.fail_invalid_token()
    assert requests.post(url, json=body, timeout=5).json()["errcode"] == 40001
    assert requests.post(url, json=body, timeout=5).json()["errcode"] == 0
    fake.fail_rate_limit()
    assert requests.post(url, json=body, timeout=5).json()["errcode"] == 45009
    fake.fail_outside_window(openid)
    assert requests.post(url, json=body, timeout=5).json()["errcode"] == 45015
    assert requests.post(url, json=body, timeout=5).json()["errcode"] == 45015  # until told otherwise
    fake.inside_window(openid)
    fake.fail_server_error(status=502)
    assert requests.post(url, json=body, timeout=5).status_code == 502
    fake.fail_slow(0.6)
    started = time.monotonic()
    assert requests.post(url, json=body, timeout=5).json()["errcode"] == 0
    assert time.monotonic() - started >= 0.6
    assert requests.post(url, json=body, timeout=5).json()["errcode"] == 0
    sent = fake.calls(CUSTOM_SEND_PATH)
    assert len(sent) == 8 and sent[0].json == body and sent[0].query["access_token"] == issued
    fake.fail_errcode(48001, "api unauthorized", path=CUSTOM_SEND_PATH)
    assert requests.post(url, json=body, timeout=5).json()["errcode"] == 48001
    assert token(fake)  # a failure without a path never hits the token endpoint


def test_an_unknown_endpoint_is_a_404_and_a_menu_over_wechats_limits_is_refused(fake):
    assert requests.get(f"{fake.url}/cgi-bin/nothing", timeout=5).status_code == 404
    url = f"{fake.url}/cgi-bin/menu/create?access_token={token(fake)}"
    four = {"button": [{"type": "click", "name": f"b{i}", "key": "k"} for i in range(4)]}
    assert requests.post(url, json=four, timeout=5).json()["errcode"] == 40016
    long_name = {"button": [{"type": "click", "name": "一二三四五六", "key": "k"}]}  # 18 bytes
    assert requests.post(url, json=long_name, timeout=5).json()["errcode"] == 40018
    six_subs: dict[str, Any] = {
        "button": [{"name": "m", "sub_button": [{"type": "click", "name": "s", "key": "k"}] * 6}]
    }
    assert requests.post(url, json=six_subs, timeout=5).json()["errcode"] == 40023


OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"


def every_message(to: str) -> dict[str, str]:
    return {
        "text": fw.text_xml(to=to, openid=OPENID, content="你好 ]]> <b>", msg_id=1234567890123456),
        "image": fw.image_xml(to=to, openid=OPENID, media_id="MEDIA1"),
        "voice": fw.voice_xml(to=to, openid=OPENID, media_id="VOICE1", recognition="我要退货"),
        "video": fw.video_xml(to=to, openid=OPENID, media_id="VIDEO1", thumb_media_id="THUMB1"),
        "location": fw.location_xml(to=to, openid=OPENID, latitude=22.5431, longitude=114.0579, label="深圳"),
        "link": fw.link_xml(to=to, openid=OPENID, title="订单", description="d", url="https://shop.test/o/1"),
        "subscribe": fw.subscribe_xml(to=to, openid=OPENID),
        "subscribe_scan": fw.subscribe_xml(to=to, openid=OPENID, scene="agent:7"),
        "unsubscribe": fw.unsubscribe_xml(to=to, openid=OPENID),
        "scan": fw.scan_xml(to=to, openid=OPENID, scene="agent:7"),
    }


def test_every_message_kind_parses_with_wechatpy_as_what_it_is(fake):
    parsed = {kind: parse_message(xml) for kind, xml in every_message(fake.account.original_id).items()}
    assert parsed["text"].content == "你好 ]]> <b>" and parsed["text"].id == 1234567890123456
    assert parsed["text"].source == OPENID and parsed["text"].target == fake.account.original_id
    assert parsed["image"].media_id == "MEDIA1" and parsed["image"].image.startswith("http")
    assert parsed["voice"].recognition == "我要退货" and parsed["voice"].format == "amr"
    assert parse_message(fw.voice_xml(to="gh", openid=OPENID, media_id="V")).recognition is None
    assert parsed["video"].thumb_media_id == "THUMB1"
    assert tuple(map(float, parsed["location"].location)) == (22.5431, 114.0579) and parsed["location"].label == "深圳"
    assert parsed["link"].url == "https://shop.test/o/1"
    assert parsed["subscribe"].event == "subscribe"
    assert parsed["subscribe_scan"].event == "subscribe_scan" and parsed["subscribe_scan"].scene_id == "agent:7"
    assert parsed["unsubscribe"].event == "unsubscribe"
    assert parsed["scan"].event == "scan" and parsed["scan"].scene_id == "agent:7"


def test_plaintext_messages_are_signed_as_wechatpy_checks_them(fake):
    account = fake.account
    signed = fake.signed(fw.text_xml(to=account.original_id, openid=OPENID, content="hi"))
    query = signed.query
    check_signature(account.token, query["signature"], query["timestamp"], query["nonce"])
    with pytest.raises(InvalidSignatureException):
        check_signature("another-token", query["signature"], query["timestamp"], query["nonce"])
    assert query["openid"] == OPENID and "encrypt_type" not in query
    assert parse_message(signed.body).content == "hi"
    replay = fake.signed(fw.text_xml(to="gh", openid=OPENID, content="x"), timestamp="1500000000", nonce="42")
    assert (replay.query["timestamp"], replay.query["nonce"]) == ("1500000000", "42")


@pytest.mark.parametrize("mode", ["safe", "compatible"])
def test_encrypted_messages_decrypt_with_wechatpys_crypto(fake, mode):
    account = fake.account
    crypto = WeChatCrypto(account.token, account.encoding_aes_key, account.app_id)
    for kind, xml in every_message(account.original_id).items():
        signed = fake.signed(xml, mode)
        query = signed.query
        assert query["encrypt_type"] == "aes"
        check_signature(account.token, query["signature"], query["timestamp"], query["nonce"])
        plain = crypto.decrypt_message(signed.body, query["msg_signature"], query["timestamp"], query["nonce"])
        assert plain == xml, kind
        assert (b"<MsgType>" in signed.body) == (mode == "compatible")  # compatible: the plaintext beside
    with pytest.raises(InvalidSignatureException):
        crypto.decrypt_message(signed.body, "0" * 40, query["timestamp"], query["nonce"])
    stranger = WeChatCrypto(account.token, fw.new_account().encoding_aes_key, account.app_id)
    with pytest.raises(Exception):  # noqa: B017 - another key: garbage or a padding error, never the message
        assert stranger.decrypt_message(signed.body, query["msg_signature"], query["timestamp"], query["nonce"]) != xml


def test_deliver_and_verify_reach_a_callback_url_as_wechat_does(fake):
    received: list[tuple[str, str, bytes]] = []

    class Callback(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _answer(self, body: bytes) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            received.append(("GET", self.path, b""))
            self._answer(self.path.split("echostr=")[1].split("&")[0].encode())

        def do_POST(self):
            received.append(("POST", self.path, self.rfile.read(int(self.headers["Content-Length"]))))
            self._answer(b"success")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Callback)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/wechat/some-key"
    try:
        assert fake.verify(url, echostr="1234567890") == (200, b"1234567890")
        xml = fw.text_xml(to=fake.account.original_id, openid=OPENID, content="hi")
        assert fake.deliver(url, xml, mode="safe") == (200, b"success")
    finally:
        server.shutdown()
        server.server_close()
    assert received[0][1].startswith("/wechat/some-key?signature=") and "echostr=1234567890" in received[0][1]
    method, path, body = received[1]
    assert method == "POST" and "encrypt_type=aes" in path and "msg_signature=" in path and b"<Encrypt>" in body
