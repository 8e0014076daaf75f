"""The WeChat account's service and selectors: the callback's lookup, the cached token dropped with its secret."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from enterprises.models import Enterprise
from wechat import client
from wechat.models import MessageMode, WechatAccount
from wechat.selectors import wechat_account_for_callback, wechat_account_of
from wechat.services import wechat_account_save

from .fakeserver import TOKEN_PATH

pytestmark = pytest.mark.django_db


def test_the_callback_finds_only_an_enabled_account_of_an_active_enterprise_by_its_key(
    enterprise, wechat_account, wechat_boss, other_enterprise
):
    key = wechat_account.callback_key
    assert wechat_account_for_callback(key) == wechat_account
    assert wechat_account_of(enterprise.pk) == wechat_account and wechat_account_of(other_enterprise.pk) is None
    for wrong in ("", key[:-1], key + "x", "x" * 500, str(wechat_account.pk)):
        assert wechat_account_for_callback(wrong) is None
    Enterprise.objects.filter(pk=enterprise.pk).update(is_active=False)
    assert wechat_account_for_callback(key) is None
    Enterprise.objects.filter(pk=enterprise.pk).update(is_active=True)
    wechat_account_save(actor=wechat_boss, app_id=wechat_account.app_id, is_enabled=False)
    assert wechat_account_for_callback(key) is None
    assert WechatAccount.objects.get(pk=wechat_account.pk).callback_key == key  # saving keeps the URL


def test_a_plaintext_account_may_be_enabled_without_an_aes_key(enterprise, wechat_boss, fake_wechat):
    known = fake_wechat.account
    account = wechat_account_save(
        actor=wechat_boss,
        app_id=known.app_id,
        app_secret=known.app_secret,
        token=known.token,
        message_mode=MessageMode.PLAINTEXT,
        is_enabled=True,
    )
    assert account.is_enabled and account.encoding_aes_key == ""


def test_a_new_secret_drops_the_cached_token_once_committed(
    wechat_account, wechat_boss, fake_wechat, django_capture_on_commit_callbacks
):
    client.access_token(wechat_account)
    assert cache.get(client._key(wechat_account.app_id)) is not None
    with django_capture_on_commit_callbacks(execute=True):
        wechat_account_save(actor=wechat_boss, app_id=wechat_account.app_id, greeting="changed")
    assert cache.get(client._key(wechat_account.app_id)) is not None  # same secret: the token stays
    with django_capture_on_commit_callbacks(execute=True):
        wechat_account_save(actor=wechat_boss, app_id=wechat_account.app_id, app_secret="f" * 32)
    assert cache.get(client._key(wechat_account.app_id)) is None
    fake_wechat.add_account(fake_wechat.account.__class__(**{**fake_wechat.account.__dict__, "app_secret": "f" * 32}))
    client.access_token(WechatAccount.objects.get(pk=wechat_account.pk))
    assert fake_wechat.count(TOKEN_PATH) == 2
