"""Secrets at rest for the WeChat channel: Fernet encryption under keys from the environment, with rotation.

Keys: `GOFLY_WECHAT_KEYS`, comma-separated Fernet keys (`Fernet.generate_key()`, 44 characters of URL-safe
base64). The first encrypts, every one decrypts: to rotate, put a new key first, run
`manage.py wechat_rotate_keys` (re-encrypts every stored secret under it), then drop the old key. Without
the variable, a key derived from SECRET_KEY (HKDF-SHA256) is used, so the embedded default works; it is
also tried last when keys are set, so moving from the default to keys of your own loses nothing (rotate
afterwards, and secrets no longer depend on SECRET_KEY).

A value no key decrypts (its key was removed) reads as empty: `secret_decrypt` raises SecretUnreadableError
and the model's properties (wechat.models) turn that into "" plus `secrets_lost()`, which the settings
page shows as "enter it again". Secrets are never logged; pages show them through `secret_masked`.
"""

from __future__ import annotations

import base64
import logging
import os
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

logger = logging.getLogger(__name__)

KEYS_ENV = "GOFLY_WECHAT_KEYS"
# Binds the derived key to this use: SECRET_KEY also signs sessions, and a key for one must not be another.
_HKDF_INFO = b"gofly wechat secrets at rest v1"


class SecretUnreadableError(ValueError):
    """A stored secret that none of the configured keys decrypts (its key was removed, or the row is corrupt)."""


def _derived_key(secret_key: str) -> bytes:
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(secret_key.encode())
    return base64.urlsafe_b64encode(raw)


@lru_cache(maxsize=4)
def _fernet_for(keys_env: str, secret_key: str, debug: bool) -> MultiFernet:
    """The keys for one configuration (cached: deriving and parsing once per process and configuration)."""
    fernets: list[Fernet] = []
    for position, key in enumerate(part.strip() for part in keys_env.split(",")):
        if not key:
            continue
        try:
            fernets.append(Fernet(key.encode()))
        except ValueError:
            # Never the key itself in the message: it is a secret, even when malformed.
            raise ImproperlyConfigured(
                f"{KEYS_ENV}: key number {position + 1} is not a Fernet key (44 characters of URL-safe base64)"
            ) from None
    if not fernets and not debug:
        logger.warning("%s is not set: WeChat secrets are encrypted under a key derived from SECRET_KEY", KEYS_ENV)
    fernets.append(Fernet(_derived_key(secret_key)))
    return MultiFernet(fernets)


def _fernet() -> MultiFernet:
    return _fernet_for(os.environ.get(KEYS_ENV, ""), settings.SECRET_KEY, bool(settings.DEBUG))


def secret_encrypt(value: str) -> str:
    """The stored form of `value` (a Fernet token, ASCII) under the first key; "" stays "" (nothing stored)."""
    if not value:
        return ""
    return _fernet().encrypt(value.encode("utf-8")).decode("ascii")


def secret_decrypt(stored: str) -> str:
    """The value `stored` holds ("" for ""); SecretUnreadableError if no configured key decrypts it."""
    if not stored:
        return ""
    try:
        return _fernet().decrypt(stored.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeError):
        raise SecretUnreadableError("no configured key decrypts this secret") from None


def secret_rotate(stored: str) -> str:
    """`stored` re-encrypted under the first key (SecretUnreadableError if no key decrypts it); "" stays ""."""
    if not stored:
        return ""
    try:
        return _fernet().rotate(stored.encode("ascii")).decode("ascii")
    except (InvalidToken, UnicodeError):
        raise SecretUnreadableError("no configured key decrypts this secret") from None


def secret_masked(value: str) -> str:
    """What a page or an answer may show of a secret: its first two and last four characters (`wx…3f9a`),
    nothing of a short one, "" for none."""
    if not value:
        return ""
    if len(value) < 12:
        return "…"
    return f"{value[:2]}…{value[-4:]}"
