"""The official accounts' secrets at rest: encrypted in the database, keys rotated, a lost key read as empty."""

from __future__ import annotations

import logging

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection

from wechat import secrets as at_rest
from wechat.models import SECRET_FIELDS, WechatAccount
from wechat.services import wechat_account_save

pytestmark = pytest.mark.django_db

SECRET = "0123456789abcdef0123456789abcdef"
TOKEN = "MyServerToken2024"
AES_KEY = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456"
APP_ID = "wx0123456789abcdef"


def save(actor, **changes):
    values = {
        "app_id": APP_ID,
        "app_secret": SECRET,
        "token": TOKEN,
        "encoding_aes_key": AES_KEY,
        "message_mode": "safe",
        "is_enabled": True,
    }
    return wechat_account_save(actor=actor, **{**values, **changes})


def raw_row(account: WechatAccount) -> dict[str, str]:
    """The account's row as the database holds it, every column as text."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM wechat_wechataccount WHERE id = %s", [account.pk])
        names = [column[0] for column in cursor.description]
        return {name: str(value) for name, value in zip(names, cursor.fetchone(), strict=True)}


def use_keys(monkeypatch, *keys: bytes) -> None:
    monkeypatch.setenv(at_rest.KEYS_ENV, ",".join(key.decode() for key in keys))


def test_the_database_holds_the_secrets_only_encrypted_and_they_read_back(wechat_boss, wechat_keys):
    account = save(wechat_boss)
    row = raw_row(account)
    for plain in (SECRET, TOKEN, AES_KEY):
        assert not any(plain in value for value in row.values())
    assert row["app_id"] == APP_ID  # not a secret: WeChat shows it to anyone
    stored = Fernet(wechat_keys[0].encode())
    assert stored.decrypt(row["app_secret_encrypted"].encode()).decode() == SECRET
    fresh = WechatAccount.objects.get(pk=account.pk)
    assert (fresh.app_secret, fresh.token, fresh.encoding_aes_key) == (SECRET, TOKEN, AES_KEY)
    assert fresh.secrets_lost() == []


def test_without_keys_the_secrets_are_encrypted_under_a_key_derived_from_secret_key(wechat_boss, monkeypatch):
    monkeypatch.delenv(at_rest.KEYS_ENV, raising=False)
    account = save(wechat_boss)
    row = raw_row(account)
    assert SECRET not in row["app_secret_encrypted"]
    assert WechatAccount.objects.get(pk=account.pk).app_secret == SECRET


def test_an_old_key_still_decrypts_and_a_save_re_encrypts_under_the_first_key(wechat_boss, monkeypatch):
    old, new = Fernet.generate_key(), Fernet.generate_key()
    use_keys(monkeypatch, old)
    account = save(wechat_boss)
    use_keys(monkeypatch, new, old)
    assert WechatAccount.objects.get(pk=account.pk).app_secret == SECRET  # the old key, second, decrypts
    assert Fernet(old).decrypt(raw_row(account)["token_encrypted"].encode()).decode() == TOKEN
    # A save that keeps the secrets (fields left empty) stores them again under the first key.
    save(wechat_boss, app_secret="", encoding_aes_key="", token=None, greeting="hello")
    row = raw_row(account)
    for name, plain in zip(SECRET_FIELDS, (SECRET, TOKEN, AES_KEY), strict=True):
        assert Fernet(new).decrypt(row[f"{name}_encrypted"].encode()).decode() == plain
        with pytest.raises(InvalidToken):
            Fernet(old).decrypt(row[f"{name}_encrypted"].encode())
    use_keys(monkeypatch, new)  # the old key can go now
    assert WechatAccount.objects.get(pk=account.pk).encoding_aes_key == AES_KEY


def test_the_rotate_command_re_encrypts_every_account_under_the_first_key(wechat_boss, monkeypatch):
    old, new = Fernet.generate_key(), Fernet.generate_key()
    use_keys(monkeypatch, old)
    account = save(wechat_boss)
    use_keys(monkeypatch, new, old)
    call_command("wechat_rotate_keys", stdout=open("/dev/null", "w"))
    use_keys(monkeypatch, new)
    fresh = WechatAccount.objects.get(pk=account.pk)
    assert (fresh.app_secret, fresh.token, fresh.encoding_aes_key) == (SECRET, TOKEN, AES_KEY)


def test_a_secret_whose_key_was_removed_reads_as_empty_and_is_listed_as_lost(wechat_boss, monkeypatch):
    use_keys(monkeypatch, Fernet.generate_key())
    account = save(wechat_boss)
    use_keys(monkeypatch, Fernet.generate_key())
    fresh = WechatAccount.objects.get(pk=account.pk)
    assert (fresh.app_secret, fresh.token, fresh.encoding_aes_key) == ("", "", "")
    assert fresh.secrets_lost() == list(SECRET_FIELDS)
    assert not fresh.is_complete()


def test_a_malformed_key_is_a_configuration_error_that_does_not_repeat_the_key(monkeypatch):
    monkeypatch.setenv(at_rest.KEYS_ENV, f"{Fernet.generate_key().decode()},not-a-key-but-a-secret")
    with pytest.raises(ImproperlyConfigured) as refused:
        at_rest.secret_encrypt("x")
    assert "key number 2" in str(refused.value) and "not-a-key-but-a-secret" not in str(refused.value)


def test_without_keys_and_debug_off_one_warning_is_logged_once(settings, monkeypatch, caplog):
    settings.DEBUG = False
    monkeypatch.delenv(at_rest.KEYS_ENV, raising=False)
    at_rest._fernet_for.cache_clear()
    with caplog.at_level(logging.WARNING, logger="wechat.secrets"):
        at_rest.secret_decrypt(at_rest.secret_encrypt("a"))
        at_rest.secret_encrypt("b")
    warnings = [record for record in caplog.records if record.name == "wechat.secrets"]
    assert len(warnings) == 1 and at_rest.KEYS_ENV in warnings[0].getMessage()
    caplog.clear()
    monkeypatch.setenv(at_rest.KEYS_ENV, Fernet.generate_key().decode())
    with caplog.at_level(logging.WARNING, logger="wechat.secrets"):
        at_rest.secret_encrypt("c")
    assert [record for record in caplog.records if record.name == "wechat.secrets"] == []


def test_a_masked_secret_shows_two_characters_and_the_last_four_and_nothing_of_a_short_one():
    assert at_rest.secret_masked(SECRET) == "01…cdef"
    assert at_rest.secret_masked("short") == "…"
    assert at_rest.secret_masked("") == ""


def test_neither_str_nor_repr_of_an_account_shows_a_secret(wechat_boss):
    account = save(wechat_boss)
    for text in (str(account), repr(account)):
        assert SECRET not in text and TOKEN not in text and AES_KEY not in text
