"""Writes of the WeChat channel: an enterprise's official-account settings, and re-encrypting the secrets.

`wechat_account_save` is the one way the settings change (the management page calls it); it validates
like the page's form, keeps a secret given empty, audits what changed (names, never secret values) and,
once committed, drops the cached access token when the AppID or AppSecret changed.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.permissions import MANAGE_SETTINGS
from core.errors import ChatError, forbidden
from core.jsonin import text_ok
from enterprises.audit import audit_record
from enterprises.models import AuditAction, Enterprise

from . import client
from .models import (
    GREETING_MAX_LENGTH,
    SECRET_FIELDS,
    MessageMode,
    WechatAccount,
    new_token,
    validate_app_id,
    validate_app_secret,
    validate_encoding_aes_key,
    validate_token,
)
from .secrets import SecretUnreadableError, secret_rotate

logger = logging.getLogger(__name__)

_PLAIN_FIELDS = (
    "app_id",
    "message_mode",
    "active_messages_allowed",
    "oauth_enabled",
    "greeting",
    "greeting_en",
    "is_enabled",
)


def greeting_check(value: object) -> str:
    """A follow greeting as stored, or ChatError: text (valid Unicode, no NUL, none of the replacement
    characters a browser's non-UTF-8 form leaves) of at most GREETING_MAX_LENGTH characters."""
    if not isinstance(value, str) or len(value) > GREETING_MAX_LENGTH:
        raise ChatError("invalid", _("A greeting is at most %(limit)d characters.") % {"limit": GREETING_MAX_LENGTH})
    if not text_ok(value) or "\ufffd" in value:
        raise ChatError("bad_text", _("Text must be valid Unicode without NUL characters."))
    return value.strip()


def _checked(value: object, validator: Any) -> str:
    if not isinstance(value, str):
        raise ChatError("invalid", _("Enter text."))
    try:
        validator(value)
    except ValidationError as invalid:
        raise ChatError("invalid", " ".join(invalid.messages)) from None
    return value


def _actor_enterprise(actor: Any) -> int:
    enterprise_id = getattr(actor, "enterprise_id", None)
    if enterprise_id is None or not actor.is_active or not actor.has_perm(MANAGE_SETTINGS):
        raise forbidden()
    return int(enterprise_id)


def _secrets_set(account: WechatAccount, given: dict[str, str | None]) -> list[str]:
    """Store the secrets given; keep (re-encrypted under the first key) those given as None or ""."""
    replaced = []
    for name in SECRET_FIELDS:
        value = given[name]
        if value:
            if value != getattr(account, name):
                replaced.append(name)
            setattr(account, name, value)
            continue
        column = f"{name}_encrypted"
        try:
            setattr(account, column, secret_rotate(getattr(account, column)))
        except SecretUnreadableError:
            pass  # stays unreadable: the page asks for it again
    return replaced


@transaction.atomic
def wechat_account_save(
    *,
    actor: Any,
    app_id: str,
    app_secret: str | None = None,
    token: str | None = None,
    encoding_aes_key: str | None = None,
    message_mode: str = MessageMode.SAFE,
    active_messages_allowed: bool = True,
    oauth_enabled: bool = False,
    greeting: str = "",
    greeting_en: str = "",
    is_enabled: bool = False,
) -> WechatAccount:
    """Create or change the official account of `actor`'s enterprise (`actor` needs manage_settings): every
    field as given (the defaults included), but the secrets.

    `app_secret`, `encoding_aes_key`: None or "" keeps the stored one. `token`: None keeps the stored one,
    "" generates a new one (as does None when none is stored). Enabling needs a complete account
    (WechatAccount.is_complete). Raises ChatError: `forbidden`, `invalid` / `bad_text` (a field breaks
    WeChat's format; the message says which), `incomplete`. Audited as settings_changed, naming the fields
    changed and the secrets replaced, never their values.
    """
    enterprise_id = _actor_enterprise(actor)
    app_id = _checked(app_id.strip() if isinstance(app_id, str) else app_id, validate_app_id)
    secrets_given: dict[str, str | None] = {
        "app_secret": _checked(app_secret, validate_app_secret) if app_secret else None,
        "token": _checked(token, validate_token) if token else None,
        "encoding_aes_key": _checked(encoding_aes_key, validate_encoding_aes_key) if encoding_aes_key else None,
    }
    if message_mode not in MessageMode.values:
        raise ChatError("invalid", _("Choose a message encryption mode."))
    values: dict[str, Any] = {
        "app_id": app_id,
        "message_mode": message_mode,
        "active_messages_allowed": bool(active_messages_allowed),
        "oauth_enabled": bool(oauth_enabled),
        "greeting": greeting_check(greeting),
        "greeting_en": greeting_check(greeting_en),
        "is_enabled": bool(is_enabled),
    }
    enterprise = Enterprise.objects.select_for_update().get(pk=enterprise_id)  # one account per enterprise
    account = WechatAccount.objects.filter(enterprise=enterprise).first()
    created = account is None
    if account is None:
        account = WechatAccount(enterprise=enterprise)
    before = {name: getattr(account, name) for name in _PLAIN_FIELDS}
    old_app_id = account.app_id
    if token == "" or (token is None and not account.token_encrypted):
        secrets_given["token"] = new_token()
    for name, value in values.items():
        setattr(account, name, value)
    replaced = _secrets_set(account, secrets_given)
    if account.is_enabled and not account.is_complete():
        raise ChatError(
            "incomplete",
            _(
                "Enter the AppID, AppSecret and Token, and the EncodingAESKey unless in plaintext mode, before "
                "enabling the account."
            ),
        )
    account.save()
    changed = sorted(name for name in _PLAIN_FIELDS if before[name] != values[name])
    audit_record(
        action=AuditAction.SETTINGS_CHANGED,
        actor=actor,
        enterprise_id=enterprise_id,
        target_type="wechat_account",
        target_id=account.pk,
        target_name=account.app_id,
        details={"wechat": "created" if created else "changed", "changed": changed, "secrets_replaced": replaced},
    )
    if old_app_id != account.app_id or "app_secret" in replaced:
        for stale in {old_app_id, account.app_id} - {""}:
            transaction.on_commit(partial(client.access_token_forget, stale))
    return account


@transaction.atomic
def wechat_account_secrets_rotate() -> tuple[int, int]:
    """Re-encrypt every stored secret under the first key of GOFLY_WECHAT_KEYS (wechat.secrets); the numbers
    of accounts rewritten and of accounts holding a secret no key decrypts (left as they are)."""
    rewritten = unreadable = 0
    for account in WechatAccount.objects.select_for_update().order_by("pk"):
        columns = {}
        lost = False
        for name in SECRET_FIELDS:
            column = f"{name}_encrypted"
            try:
                columns[column] = secret_rotate(getattr(account, column))
            except SecretUnreadableError:
                lost = True
        WechatAccount.objects.filter(pk=account.pk).update(**columns)
        rewritten += 1
        unreadable += lost
    logger.info("wechat: secrets of %d accounts re-encrypted, %d with a secret unreadable", rewritten, unreadable)
    return rewritten, unreadable
