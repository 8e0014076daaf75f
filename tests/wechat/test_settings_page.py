"""The WeChat page of the management area (/manage/wechat/account/): the callback URL and Token to paste into
WeChat, write-only secrets shown masked, a credentials test, and nobody else's account."""

from __future__ import annotations

import html
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.test import Client

from accounts.models import User
from accounts.permissions import ROLE_ENTERPRISE_ADMIN
from accounts.services import agent_create, role_save
from core.errors import ChatError
from enterprises.models import AuditAction, AuditEntry, Enterprise
from tests.conftest import AGENT_PASSWORD
from wechat.models import WechatAccount
from wechat.secrets import KEYS_ENV
from wechat.services import wechat_account_save

from .fakeserver import TOKEN_PATH, FakeWechat

pytestmark = pytest.mark.django_db

PAGE = "/manage/wechat/account/"


def signed_in(user: User) -> Client:
    client = Client(headers={"accept-language": "en"})  # the tests read the page's English
    client.force_login(User.objects.get(pk=user.pk))
    return client


def form(fake: FakeWechat, **changes: Any) -> dict[str, Any]:
    known = fake.account
    values = {
        "action": "save",
        "app_id": known.app_id,
        "app_secret": known.app_secret,
        "token": known.token,
        "encoding_aes_key": known.encoding_aes_key,
        "message_mode": "safe",
        "active_messages_allowed": "on",
        "greeting": "欢迎关注",
        "greeting_en": "Welcome",
        "is_enabled": "on",
    }
    values.update(changes)
    return {name: value for name, value in values.items() if value is not None}


def page(client: Client) -> str:
    answer = client.get(PAGE)
    assert answer.status_code == 200
    return html.unescape(answer.content.decode())


@pytest.fixture
def other_boss(other_enterprise: Enterprise) -> User:
    return agent_create(
        enterprise=other_enterprise, username="globexboss", password=AGENT_PASSWORD, role=ROLE_ENTERPRISE_ADMIN
    )


def test_an_admin_saves_the_account_and_gets_the_callback_url_and_token_to_paste_into_wechat(
    enterprise, wechat_boss, fake_wechat
):
    client = signed_in(wechat_boss)
    assert PAGE in client.get("/manage/").content.decode()  # listed on the area's index
    assert 'id="wechat-callback-url"' not in page(client)  # nothing saved yet: no URL to paste
    assert client.post(PAGE, form(fake_wechat)).status_code == 302
    account = WechatAccount.objects.get(enterprise=enterprise)
    assert account.is_enabled and account.app_id == fake_wechat.account.app_id
    shown = page(client)
    assert f"http://testserver/wechat/{account.callback_key}" in shown
    assert len(account.callback_key) >= 32
    assert fake_wechat.account.token in shown  # the operator pastes it into WeChat's console
    known = fake_wechat.account
    for secret in (known.app_secret, known.encoding_aes_key):
        assert secret not in shown
    assert f"{known.app_secret[:2]}…{known.app_secret[-4:]}" in shown
    assert f"{known.encoding_aes_key[:2]}…{known.encoding_aes_key[-4:]}" in shown
    entry = AuditEntry.objects.get(action=AuditAction.SETTINGS_CHANGED, target_type="wechat_account")
    assert entry.actor_id == wechat_boss.pk and entry.enterprise_id == enterprise.pk
    assert entry.details["secrets_replaced"] == ["app_secret", "token", "encoding_aes_key"]
    for secret in (known.app_secret, known.token, known.encoding_aes_key):
        assert secret not in str(entry.details) and secret not in entry.target_name


def test_empty_secret_fields_keep_the_stored_secrets_and_an_empty_token_makes_a_new_one(
    enterprise, wechat_boss, fake_wechat
):
    client = signed_in(wechat_boss)
    client.post(PAGE, form(fake_wechat))
    assert client.post(PAGE, form(fake_wechat, app_secret="", encoding_aes_key="", greeting="新的")).status_code == 302
    account = WechatAccount.objects.get(enterprise=enterprise)
    assert account.app_secret == fake_wechat.account.app_secret
    assert account.encoding_aes_key == fake_wechat.account.encoding_aes_key
    assert account.greeting == "新的" and account.token == fake_wechat.account.token
    client.post(PAGE, form(fake_wechat, app_secret="", encoding_aes_key="", token=""))
    token = WechatAccount.objects.get(enterprise=enterprise).token
    assert token != fake_wechat.account.token and len(token) == 32 and token.isalnum()
    latest = AuditEntry.objects.filter(target_type="wechat_account").order_by("-pk").first()
    assert latest is not None
    assert latest.details["secrets_replaced"] == ["token"]


def test_the_form_never_sends_a_secret_back_to_the_browser(enterprise, wechat_account, wechat_boss, fake_wechat):
    client = signed_in(wechat_boss)
    shown = page(client)
    assert 'name="app_secret"' in shown and 'name="encoding_aes_key"' in shown
    assert wechat_account.app_secret not in shown and wechat_account.encoding_aes_key not in shown
    # Not even the new ones just typed, when the form comes back with an error.
    typed = {"app_secret": "9" * 32, "encoding_aes_key": "Z" * 43}
    answer = client.post(PAGE, form(fake_wechat, token="not valid!", **typed))
    assert answer.status_code == 400
    assert (
        typed["app_secret"] not in answer.content.decode() and typed["encoding_aes_key"] not in answer.content.decode()
    )


@pytest.mark.parametrize(
    "changes",
    [
        {"app_id": "wx0123456789abcdef0"},  # 19 characters
        {"app_id": "gh_0123456789abcde"},
        {"app_secret": "a" * 33},
        {"app_secret": "a" * 31 + "!"},
        {"token": "t" * 33},
        {"token": "no spaces"},
        {"encoding_aes_key": "A" * 42},  # one short
        {"encoding_aes_key": "A" * 44},
        {"encoding_aes_key": "A" * 41 + "+/"},  # base64, but not WeChat's alphabet
        {"greeting": "长" * 601},
        {"greeting_en": "nul\x00byte"},
        {"message_mode": "loud"},
        {"is_enabled": "on", "app_secret": "", "app_id": "wx0123456789abcdef"},  # enabling without a secret
    ],
)
def test_malformed_settings_get_form_errors_and_nothing_is_saved(enterprise, wechat_boss, fake_wechat, changes):
    answer = signed_in(wechat_boss).post(PAGE, form(fake_wechat, **changes))
    assert answer.status_code == 400
    assert 'class="errorlist' in answer.content.decode() or 'id="wechat-form-error"' in answer.content.decode()
    assert not WechatAccount.objects.filter(enterprise=enterprise).exists()


def test_text_that_is_not_utf_8_gets_a_form_error(enterprise, wechat_boss, fake_wechat):
    body = "&".join(f"{name}={value}" for name, value in form(fake_wechat, greeting=None).items())
    answer = signed_in(wechat_boss).post(
        PAGE, data=f"{body}&greeting=%FF%FEhello".encode(), content_type="application/x-www-form-urlencoded"
    )
    assert answer.status_code == 400
    assert html.escape("Text must be valid Unicode without NUL characters.") in answer.content.decode()
    assert not WechatAccount.objects.filter(enterprise=enterprise).exists()


def test_the_test_button_says_what_wechat_answered_without_a_500(enterprise, wechat_account, wechat_boss, fake_wechat):
    client = signed_in(wechat_boss)
    answer = client.post(PAGE, {"action": "test"})
    assert answer.status_code == 200 and 'id="wechat-test-result" class="success"' in answer.content.decode()
    assert fake_wechat.count(TOKEN_PATH) == 1
    # WeChat refuses the secret (it was reset in WeChat's console).
    fake_wechat.add_account(fake_wechat.account.__class__(**{**fake_wechat.account.__dict__, "app_secret": "1" * 32}))
    shown = html.unescape(client.post(PAGE, {"action": "test"}).content.decode())
    assert "errcode 40125, invalid appsecret" in shown and 'class="errornote"' in shown
    fake_wechat.fail_errcode(40164, "invalid ip 203.0.113.9, not in whitelist", path=TOKEN_PATH)
    shown = html.unescape(client.post(PAGE, {"action": "test"}).content.decode())
    assert "errcode 40164" in shown and "IP whitelist" in shown
    fake_wechat.fail_server_error(status=502, path=TOKEN_PATH)
    shown = html.unescape(client.post(PAGE, {"action": "test"}).content.decode())
    assert "(HTTP 502)" in shown
    assert wechat_account.app_secret not in shown


def test_the_test_button_is_rate_limited_per_enterprise(enterprise, wechat_account, wechat_boss, fake_wechat):
    client = signed_in(wechat_boss)
    for _ in range(10):
        client.post(PAGE, {"action": "test"})
    answer = client.post(PAGE, {"action": "test"})
    assert answer.status_code == 200 and 'class="errornote"' in answer.content.decode()
    assert fake_wechat.count(TOKEN_PATH) == 10


def test_a_secret_whose_key_was_removed_is_asked_for_again_not_a_500(enterprise, wechat_boss, fake_wechat, monkeypatch):
    monkeypatch.setenv(KEYS_ENV, Fernet.generate_key().decode())
    client = signed_in(wechat_boss)
    client.post(PAGE, form(fake_wechat))
    monkeypatch.setenv(KEYS_ENV, Fernet.generate_key().decode())  # the old key is gone
    shown = page(client)
    assert 'id="wechat-secrets-lost"' in shown and "AppSecret" in shown
    answer = client.post(PAGE, {"action": "test"})
    assert answer.status_code == 200 and "enter it again" in html.unescape(answer.content.decode())
    assert fake_wechat.count(TOKEN_PATH) == 0
    # Saving without the lost secrets while enabled is refused; entering them again heals it.
    assert client.post(PAGE, form(fake_wechat, app_secret="", encoding_aes_key="")).status_code == 400
    assert client.post(PAGE, form(fake_wechat)).status_code == 302
    assert 'id="wechat-secrets-lost"' not in page(client)


def test_a_plain_agent_and_a_stranger_can_neither_see_nor_change_the_settings(
    enterprise, agent, wechat_account, fake_wechat
):
    for method in ("get", "post"):
        answer = getattr(signed_in(agent), method)(PAGE, form(fake_wechat, app_id="wx" + "f" * 16))
        assert answer.status_code == 403 and wechat_account.token not in answer.content.decode()
        anonymous = getattr(Client(), method)(PAGE, form(fake_wechat, app_id="wx" + "f" * 16))
        assert anonymous.status_code == 302 and anonymous["Location"].startswith("/login?next=")
    assert WechatAccount.objects.get(pk=wechat_account.pk).app_id == fake_wechat.account.app_id
    with pytest.raises(ChatError) as refused:
        wechat_account_save(actor=agent, app_id="wx" + "f" * 16)
    assert refused.value.code == "forbidden"


def test_an_admin_who_manages_agents_but_not_settings_does_not_get_the_page(
    enterprise, wechat_boss, wechat_account, fake_wechat
):
    lead_role = role_save(actor=wechat_boss, label="Team lead", permissions=["take", "manage_agents"])
    lead = agent_create(enterprise=enterprise, username="lead", password=AGENT_PASSWORD, role=lead_role.slug)
    client = signed_in(lead)
    assert client.get("/manage/").status_code == 200 and PAGE not in client.get("/manage/").content.decode()
    assert client.get(PAGE).status_code == 403
    assert client.post(PAGE, form(fake_wechat, greeting="changed")).status_code == 403
    assert WechatAccount.objects.get(pk=wechat_account.pk).greeting == "欢迎关注！"


def test_another_enterprises_admin_sees_and_changes_only_their_own_account(
    enterprise, wechat_account, other_enterprise, other_boss, fake_wechat
):
    client = signed_in(other_boss)
    shown = page(client)
    for mine in (wechat_account.app_id, wechat_account.token, wechat_account.callback_key):
        assert mine not in shown
    other = fake_wechat.add_account()
    changed = form(fake_wechat, app_id=other.app_id, app_secret=other.app_secret, token=other.token)
    assert client.post(PAGE, changed).status_code == 302
    assert WechatAccount.objects.get(enterprise=other_enterprise).app_id == other.app_id
    ours = WechatAccount.objects.get(pk=wechat_account.pk)
    assert (ours.app_id, ours.token) == (fake_wechat.account.app_id, fake_wechat.account.token)
    assert wechat_account.callback_key not in page(client)


def test_the_platform_admin_sees_the_accounts_read_only_and_never_their_secrets(client, wechat_account):
    from accounts.services import superadmin_create

    root = superadmin_create(username="root", password="Root-pass-2031")
    browser = signed_in(root)
    shown = browser.get("/admin/wechat/wechataccount/").content.decode()
    shown += browser.get(f"/admin/wechat/wechataccount/{wechat_account.pk}/change/").content.decode()
    assert wechat_account.app_id in shown
    for secret in (
        wechat_account.app_secret,
        wechat_account.token,
        wechat_account.encoding_aes_key,
        wechat_account.callback_key,
        wechat_account.app_secret_encrypted,
    ):
        assert secret not in shown
    assert 'name="_save"' not in shown
    assert (
        browser.post(
            f"/admin/wechat/wechataccount/{wechat_account.pk}/change/", {"app_id": "wx" + "0" * 16}
        ).status_code
        == 403
    )
    assert WechatAccount.objects.get(pk=wechat_account.pk).app_id == wechat_account.app_id
    assert browser.get(f"/manage/wechat/wechataccount/{wechat_account.pk}/change/").status_code in (302, 403, 404)
