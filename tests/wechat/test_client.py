"""The WeChat client against the fake WeChat: one shared access token, refreshed before expiry and once when
WeChat calls it invalid; WeChat's refusals as typed errors that never carry a secret."""

from __future__ import annotations

import io
import logging
import threading
import time

import pytest
import requests
from django.core.cache import cache

from wechat import client
from wechat.models import WechatAccount

from .fakeserver import CUSTOM_SEND_PATH, TOKEN_PATH, FakeWechat

pytestmark = pytest.mark.django_db

USER_INFO = "/cgi-bin/user/info"


def tokens_used(fake: FakeWechat, path: str) -> list[str]:
    return [call.query.get("access_token", "") for call in fake.calls(path)]


def test_many_calls_fetch_the_token_once_and_all_carry_it(wechat_account, fake_wechat):
    openid = fake_wechat.add_follower(nickname="小明")
    for _ in range(5):
        wechat = client.wechat_client(wechat_account)  # a client per task: the token is shared, not the client
        assert wechat.user.get(openid)["nickname"] == "小明"
        wechat.message.send_text(openid, "你好")
    assert fake_wechat.count(TOKEN_PATH) == 1
    assert len(set(tokens_used(fake_wechat, USER_INFO) + tokens_used(fake_wechat, CUSTOM_SEND_PATH))) == 1
    assert client.access_token(wechat_account) == tokens_used(fake_wechat, USER_INFO)[0]


def test_ten_threads_at_once_fetch_one_token(wechat_account, fake_wechat):
    openid = fake_wechat.add_follower()
    fake_wechat.fail_slow(0.5, path=TOKEN_PATH)  # the first fetch takes a while: the others pile up on the lock
    start = threading.Barrier(10)
    errors: list[BaseException] = []

    def call() -> None:
        try:
            start.wait()
            client.wechat_client(wechat_account).user.get(openid)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert errors == []
    assert fake_wechat.count(TOKEN_PATH) == 1
    assert fake_wechat.count(USER_INFO) == 10 and len(set(tokens_used(fake_wechat, USER_INFO))) == 1


def _age(app_id: str, seconds_left: float) -> str:
    """Make the cached token of `app_id` look as if it expires in `seconds_left`; its value."""
    entry = cache.get(client._key(app_id))
    entry["expires_at"] = time.time() + seconds_left
    cache.set(client._key(app_id), entry, timeout=None)
    return entry["token"]


def test_a_token_is_replaced_before_it_expires_and_not_while_it_has_time_left(wechat_account, fake_wechat):
    openid = fake_wechat.add_follower()
    wechat = client.wechat_client(wechat_account)
    wechat.user.get(openid)
    old = _age(wechat_account.app_id, client.REFRESH_MARGIN + 60)
    wechat.user.get(openid)
    assert fake_wechat.count(TOKEN_PATH) == 1  # more than the margin left: kept
    _age(wechat_account.app_id, client.REFRESH_MARGIN - 60)
    wechat.user.get(openid)
    assert fake_wechat.count(TOKEN_PATH) == 2
    new = tokens_used(fake_wechat, USER_INFO)[-1]
    assert new != old and client.access_token(wechat_account) == new


def test_while_one_process_refreshes_others_keep_using_the_old_token(wechat_account, fake_wechat):
    openid = fake_wechat.add_follower()
    client.wechat_client(wechat_account).user.get(openid)
    old = _age(wechat_account.app_id, client.REFRESH_MARGIN - 60)
    assert cache.add(client._lock_key(wechat_account.app_id), "another process", timeout=30)
    started = time.monotonic()
    assert client.access_token(wechat_account) == old  # no waiting for the other's fetch
    assert time.monotonic() - started < 1 and fake_wechat.count(TOKEN_PATH) == 1


def test_an_invalid_token_answer_makes_one_refresh_and_one_retry(wechat_account, fake_wechat):
    openid = fake_wechat.add_follower()
    wechat = client.wechat_client(wechat_account)
    wechat.user.get(openid)
    fake_wechat.fail_invalid_token(times=1)
    assert wechat.message.send_text(openid, "again")["errcode"] == 0
    assert fake_wechat.count(TOKEN_PATH) == 2
    sent = fake_wechat.calls(CUSTOM_SEND_PATH)
    assert len(sent) == 2 and sent[0].query["access_token"] != sent[1].query["access_token"]
    assert sent[1].json == {"touser": openid, "msgtype": "text", "text": {"content": "again"}}


def test_a_second_invalid_token_answer_is_raised_not_retried_again(wechat_account, fake_wechat):
    openid = fake_wechat.add_follower()
    fake_wechat.fail_invalid_token(times=5, errcode=40014)
    with pytest.raises(client.WechatError) as refused:
        client.wechat_client(wechat_account).message.send_text(openid, "hi")
    assert refused.value.errcode == 40014
    assert fake_wechat.count(CUSTOM_SEND_PATH) == 2 and fake_wechat.count(TOKEN_PATH) == 2


def test_an_expired_token_is_replaced_on_wechats_word(wechat_account, fake_wechat):
    openid = fake_wechat.add_follower()
    wechat = client.wechat_client(wechat_account)
    wechat.user.get(openid)
    fake_wechat.expire_tokens()  # WeChat expired it early: 42001
    assert wechat.user.get(openid)["openid"] == openid
    assert fake_wechat.count(TOKEN_PATH) == 2


def test_a_file_upload_retried_after_an_invalid_token_sends_the_file_again(wechat_account, fake_wechat):
    fake_wechat.fail_invalid_token(times=1)
    answer = client.wechat_client(wechat_account).media.upload("image", io.BytesIO(b"\xff\xd8jpeg bytes"))
    assert fake_wechat.state.media[answer["media_id"]][2] == b"\xff\xd8jpeg bytes"
    download = client.wechat_client(wechat_account).media.download(answer["media_id"])
    assert download.content == b"\xff\xd8jpeg bytes" and download.headers["Content-Type"] == "image/jpeg"


def test_wechats_refusals_come_as_typed_errors_with_errcode_and_errmsg(wechat_account, fake_wechat):
    openid = fake_wechat.add_follower()
    wechat = client.wechat_client(wechat_account)
    fake_wechat.fail_outside_window(openid)
    with pytest.raises(client.WechatError) as refused:
        wechat.message.send_text(openid, "too late")
    assert refused.value.errcode == client.OUTSIDE_WINDOW and "out of time limit" in refused.value.errmsg
    fake_wechat.fail_rate_limit(path="/cgi-bin/user/info")
    with pytest.raises(client.WechatError) as refused:
        wechat.user.get(openid)
    assert refused.value.errcode == client.RATE_LIMITED
    with pytest.raises(client.WechatError) as refused:
        wechat.user.get("o-nobody")
    assert refused.value.errcode == 40003 and not isinstance(refused.value, client.WechatUnavailableError)


def test_a_slow_answer_and_a_5xx_are_wechat_unavailable_within_the_timeout(wechat_account, fake_wechat, settings):
    openid = fake_wechat.add_follower()
    wechat = client.wechat_client(wechat_account)
    wechat.user.get(openid)
    settings.GOFLY_WECHAT_TIMEOUT = 0.5
    fake_wechat.fail_slow(3)
    started = time.monotonic()
    with pytest.raises(client.WechatUnavailableError) as failed:
        client.wechat_client(wechat_account).user.get(openid)
    assert failed.value.errcode is None and failed.value.errmsg == "timeout"
    assert time.monotonic() - started < 2
    fake_wechat.fail_server_error(status=503)
    with pytest.raises(client.WechatUnavailableError) as failed:
        wechat.message.send_text(openid, "x")
    assert failed.value.errmsg == "HTTP 503"


def test_token_endpoint_failures_are_typed_and_never_carry_the_secret(wechat_account, fake_wechat, settings, caplog):
    secret = fake_wechat.account.app_secret
    caplog.set_level(logging.DEBUG)  # urllib3 logs every URL at DEBUG: the secret must not be in it
    fake_wechat.add_account(fake_wechat.account.__class__(**{**fake_wechat.account.__dict__, "app_secret": "0" * 32}))
    with pytest.raises(client.WechatError) as refused:
        client.access_token(wechat_account)
    assert refused.value.errcode == 40125 and "invalid appsecret" in refused.value.errmsg
    settings.GOFLY_WECHAT_TIMEOUT = 0.5
    fake_wechat.fail_slow(3, path=TOKEN_PATH)
    with pytest.raises(client.WechatUnavailableError) as failed:
        client.access_token(wechat_account)
    settings.GOFLY_WECHAT_API_BASE = "http://127.0.0.1:9/cgi-bin/"  # nothing listens on the discard port
    with pytest.raises(client.WechatUnavailableError) as unreachable:
        client.access_token(wechat_account)
    assert unreachable.value.errmsg == "connection failed"
    for error in (refused.value, failed.value, unreachable.value):
        assert secret not in str(error) and secret not in repr(error)
        assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)
    assert fake_wechat.count(TOKEN_PATH) >= 2
    assert secret not in caplog.text and "secret=…" in caplog.text


def test_an_account_without_its_secret_cannot_make_a_client(enterprise, fake_wechat):
    account = WechatAccount(enterprise=enterprise, app_id=fake_wechat.account.app_id)
    with pytest.raises(client.WechatNotConfiguredError):
        client.wechat_client(account)
    assert fake_wechat.count(TOKEN_PATH) == 0


def test_oauth_gives_the_followers_openid_and_profile_through_the_configured_bases(wechat_account, fake_wechat):
    openid = fake_wechat.add_follower(nickname="阿花", headimgurl="http://thirdwx.qlogo.cn/x/132")
    oauth = client.wechat_oauth(wechat_account, redirect_uri="https://chat.acme.test/chatIndex?ent_id=1", state="s1")
    assert oauth.authorize_url.startswith(f"{fake_wechat.open_base}connect/oauth2/authorize?appid=")
    fake_wechat.oauth_follower = openid
    redirected = requests.get(oauth.authorize_url, allow_redirects=False, timeout=5)
    assert redirected.status_code == 302
    location = redirected.headers["Location"]
    assert location.startswith("https://chat.acme.test/chatIndex?ent_id=1&code=") and location.endswith("&state=s1")
    code = location.split("code=")[1].split("&")[0]
    answer = oauth.fetch_access_token(code)
    assert answer["openid"] == openid and answer["scope"] == "snsapi_userinfo"
    assert oauth.get_user_info()["nickname"] == "阿花"
    assert oauth.refresh_access_token(answer["refresh_token"])["openid"] == openid
    with pytest.raises(client.WechatError) as refused:
        oauth.fetch_access_token(code)  # a code works once
    assert refused.value.errcode == 40029
    base = client.wechat_oauth(wechat_account, redirect_uri="https://x.test/", scope=client.SCOPE_BASE)
    base.fetch_access_token(fake_wechat.oauth_code(openid, "snsapi_base"))
    with pytest.raises(client.WechatError) as refused:
        base.get_user_info()
    assert refused.value.errcode == 48001


def test_qr_codes_menus_and_template_messages_go_to_the_fake(wechat_account, fake_wechat):
    openid = fake_wechat.add_follower()
    wechat = client.wechat_client(wechat_account)
    created = wechat.qrcode.create(
        {"expire_seconds": 600, "action_name": "QR_STR_SCENE", "action_info": {"scene": {"scene_str": "agent:7"}}}
    )
    picture = requests.get(client.qrcode_image_url(created["ticket"]), timeout=5)
    assert picture.status_code == 200 and picture.content.startswith(b"\x89PNG")
    menu = {"button": [{"type": "view", "name": "客服", "url": "https://chat.acme.test/"}]}
    wechat.menu.create(menu)
    assert wechat.menu.get() == {"menu": menu}
    wechat.menu.delete()
    with pytest.raises(client.WechatError) as refused:
        wechat.menu.get()
    assert refused.value.errcode == 46003
    wechat.message.send_template(openid, "TPL-1", {"first": {"value": "新访客"}})
    assert fake_wechat.calls("/cgi-bin/message/template/send")[0].json["template_id"] == "TPL-1"
    assert fake_wechat.count(TOKEN_PATH) == 1


def test_neither_a_client_nor_an_oauth_shows_its_secret_in_repr(wechat_account, fake_wechat):
    secret = fake_wechat.account.app_secret
    assert secret not in repr(client.wechat_client(wechat_account))
    assert secret not in repr(client.wechat_oauth(wechat_account, redirect_uri="https://x.test/"))
