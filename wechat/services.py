"""Writes of the WeChat channel: an enterprise's official-account settings, re-encrypting the secrets, the
custom menu (draft, publish, delete) and the domain verification files.

`wechat_account_save` is the one way the settings change (the management page calls it); it validates
like the page's form, keeps a secret given empty, audits what changed (names, never secret values) and,
once committed, drops the cached access token when the AppID or AppSecret changed.
"""

from __future__ import annotations

import logging
import re
from functools import partial
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.permissions import MANAGE_SETTINGS
from core.errors import ChatError, forbidden, not_found
from core.jsonin import text_ok
from core.ratelimit import rate_limit
from core.savepoints import nested_savepoint
from enterprises.audit import audit_record
from enterprises.models import AuditAction, Enterprise

from . import client
from .menu import menu_normalise
from .models import (
    GREETING_MAX_LENGTH,
    SECRET_FIELDS,
    TEMPLATE_REMARK_MAX_LENGTH,
    MessageMode,
    WechatAccount,
    WechatVerifyFile,
    new_token,
    validate_app_id,
    validate_app_secret,
    validate_encoding_aes_key,
    validate_template_id,
    validate_token,
)
from .secrets import SecretUnreadableError, secret_rotate
from .selectors import verify_file_of

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
# Template messages (wechat.alerts): an id per event ("" = not sent) and the remark line under each.
TEMPLATE_FIELDS = ("template_new_visitor", "template_new_message", "template_reply")
_AUDITED_FIELDS = (*_PLAIN_FIELDS, *TEMPLATE_FIELDS, "template_remark")


def greeting_check(value: object) -> str:
    """A follow greeting as stored, or ChatError: text (valid Unicode, no NUL, none of the replacement
    characters a browser's non-UTF-8 form leaves) of at most GREETING_MAX_LENGTH characters."""
    if not isinstance(value, str) or len(value) > GREETING_MAX_LENGTH:
        raise ChatError("invalid", _("A greeting is at most %(limit)d characters.") % {"limit": GREETING_MAX_LENGTH})
    if not text_ok(value) or "\ufffd" in value:
        raise ChatError("bad_text", _("Text must be valid Unicode without NUL characters."))
    return value.strip()


def template_id_check(value: object) -> str:
    """A template id as stored ("" = that template is not sent), or ChatError `invalid`."""
    if not isinstance(value, str):
        raise ChatError("invalid", _("Enter text."))
    value = value.strip()
    return _checked(value, validate_template_id) if value else ""


def template_remark_check(value: object) -> str:
    """The remark line of template messages as stored: one line of text, at most TEMPLATE_REMARK_MAX_LENGTH
    characters; or ChatError."""
    if not isinstance(value, str) or len(value) > TEMPLATE_REMARK_MAX_LENGTH:
        raise ChatError(
            "invalid", _("The remark is at most %(limit)d characters.") % {"limit": TEMPLATE_REMARK_MAX_LENGTH}
        )
    if not text_ok(value) or "\ufffd" in value:
        raise ChatError("bad_text", _("Text must be valid Unicode without NUL characters."))
    return " ".join(value.split())


def _secrets_given(app_secret: str | None, token: str | None, encoding_aes_key: str | None) -> dict[str, str | None]:
    """The secrets given, checked; None for those not given."""
    return {
        "app_secret": _checked(app_secret, validate_app_secret) if app_secret else None,
        "token": _checked(token, validate_token) if token else None,
        "encoding_aes_key": _checked(encoding_aes_key, validate_encoding_aes_key) if encoding_aes_key else None,
    }


def _template_values(ids: tuple[str | None, ...], remark: str | None) -> dict[str, str]:
    """The template fields given (None: keep the stored one), checked."""
    values = {
        name: template_id_check(given) for name, given in zip(TEMPLATE_FIELDS, ids, strict=True) if given is not None
    }
    if remark is not None:
        values["template_remark"] = template_remark_check(remark)
    return values


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
    template_new_visitor: str | None = None,
    template_new_message: str | None = None,
    template_reply: str | None = None,
    template_remark: str | None = None,
) -> WechatAccount:
    """Create or change the official account of `actor`'s enterprise (`actor` needs manage_settings): every
    field as given (the defaults included), but the secrets.

    `app_secret`, `encoding_aes_key`: None or "" keeps the stored one. `token`: None keeps the stored one,
    "" generates a new one (as does None when none is stored). Enabling needs a complete account
    (WechatAccount.is_complete). The template ids (43 letters, digits, "_" or "-"; "" turns that template
    off) and the template remark: None keeps the stored one. Raises ChatError: `forbidden`, `invalid` /
    `bad_text` (a field breaks WeChat's format; the message says which), `incomplete`. Audited as
    settings_changed, naming the fields changed and the secrets replaced, never their values.
    """
    enterprise_id = _actor_enterprise(actor)
    app_id = _checked(app_id.strip() if isinstance(app_id, str) else app_id, validate_app_id)
    secrets_given = _secrets_given(app_secret, token, encoding_aes_key)
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
    values.update(_template_values((template_new_visitor, template_new_message, template_reply), template_remark))
    enterprise = Enterprise.objects.select_for_update().get(pk=enterprise_id)  # one account per enterprise
    account = WechatAccount.objects.filter(enterprise=enterprise).first()
    created = account is None
    if account is None:
        account = WechatAccount(enterprise=enterprise)
    before = {name: getattr(account, name) for name in _AUDITED_FIELDS}
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
    changed = sorted(name for name in _AUDITED_FIELDS if name in values and before[name] != values[name])
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


# --- the custom menu (自定义菜单) --------------------------------------------------------------------------

# WeChat calls (publish, read back, delete) one enterprise may make per minute: menu/create counts against a
# daily quota of the account.
MENU_CALLS_PER_MINUTE = 20
MENU_NONE = 46003  # menu/get: "menu no exist"


def _account_for_menu(actor: Any, *, lock: bool = False) -> WechatAccount:
    enterprise_id = _actor_enterprise(actor)
    accounts = WechatAccount.objects.filter(enterprise_id=enterprise_id)
    account = (accounts.select_for_update() if lock else accounts).first()
    if account is None:
        raise ChatError("no_account", _("Save the official account's settings first."))
    return account


def _menu_audit(actor: Any, account: WechatAccount, what: str, **details: Any) -> None:
    audit_record(
        action=AuditAction.SETTINGS_CHANGED,
        actor=actor,
        enterprise_id=account.enterprise_id,
        target_type="wechat_menu",
        target_id=account.pk,
        target_name=account.app_id,
        details={"wechat": what, **details},
    )


def _menu_calls_count(account: WechatAccount) -> None:
    rate_limit(f"wechat-menu:{account.enterprise_id}", MENU_CALLS_PER_MINUTE, 60)


def _menu_buttons(menu: dict[str, Any]) -> int:
    return sum(len(button.get("sub_button") or [None]) for button in menu.get("button", []))


@transaction.atomic
def wechat_menu_save(*, actor: Any, menu: Any) -> WechatAccount:
    """Store `menu` (parsed JSON) as the draft of `actor`'s enterprise's custom menu, normalised
    (wechat.menu.menu_normalise). Raises ChatError: `forbidden`, `no_account`, `invalid_menu`
    (MenuInvalidError, every problem listed). Audited as settings_changed (wechat_menu)."""
    normalised = menu_normalise(menu)
    account = _account_for_menu(actor, lock=True)
    changed = normalised != account.menu
    if changed:
        account.menu = normalised
        account.save(update_fields=["menu", "updated_at"])
        _menu_audit(actor, account, "menu_saved", buttons=_menu_buttons(normalised))
    return account


def wechat_menu_publish(*, actor: Any, menu: Any) -> WechatAccount:
    """Store `menu` as the draft (wechat_menu_save), then publish it to WeChat (menu/create) exactly as
    normalised, and note when. The draft is committed before WeChat is called, so a refusal loses nothing.
    Raises what wechat_menu_save raises, ChatError `rate_limited`, and WechatError (WeChat refused: its
    errcode) or WechatUnavailableError / WechatNotConfiguredError."""
    normalised = menu_normalise(menu, publishing=True)
    account = wechat_menu_save(actor=actor, menu=normalised)
    _menu_calls_count(account)
    client.wechat_client(account).menu.create(normalised)
    with transaction.atomic():
        now = timezone.now()
        WechatAccount.objects.filter(pk=account.pk).update(menu_published_at=now)
        account.menu_published_at = now
        _menu_audit(actor, account, "menu_published", buttons=_menu_buttons(normalised))
    return account


def wechat_menu_live(*, actor: Any) -> dict[str, Any] | None:
    """The menu WeChat shows followers now (menu/get's "menu"), None when there is none (errcode 46003).
    Reads only; raises ChatError `forbidden`, `no_account`, `rate_limited`, and the WechatErrors."""
    account = _account_for_menu(actor)
    _menu_calls_count(account)
    try:
        answer = client.wechat_client(account).menu.get()
    except client.WechatError as refusal:
        if refusal.errcode == MENU_NONE:
            return None
        raise
    live = answer.get("menu") if isinstance(answer, dict) else None
    return live if isinstance(live, dict) else None


def wechat_menu_delete(*, actor: Any) -> WechatAccount:
    """Remove the menu from WeChat (menu/delete); the draft stays. Raises as wechat_menu_live."""
    account = _account_for_menu(actor)
    _menu_calls_count(account)
    client.wechat_client(account).menu.delete()
    with transaction.atomic():
        WechatAccount.objects.filter(pk=account.pk).update(menu_published_at=None)
        account.menu_published_at = None
        _menu_audit(actor, account, "menu_deleted")
    return account


# --- domain verification files (MP_verify_*.txt) ----------------------------------------------------------

VERIFY_FILE_NAME = re.compile(r"MP_verify_[0-9A-Za-z]{1,32}\.txt")
VERIFY_FILE_MAX_BYTES = 1024
VERIFY_CONTENT = re.compile(r"[0-9A-Za-z]{1,128}")
VERIFY_FILES_MAX = 20  # per enterprise: one per domain it serves, and a few old ones
_DOMAIN = re.compile(r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")


def verify_domain_check(value: object) -> str:
    """A domain as stored: lower case, without a final dot; "" for any domain. ChatError `invalid` for
    anything but a host name (a URL, a port, a path)."""
    if not isinstance(value, str):
        raise ChatError("invalid", _("Enter a domain name such as chat.example.com."))
    domain = value.strip().lower().removesuffix(".")
    if domain and not _DOMAIN.fullmatch(domain):
        raise ChatError("invalid", _("Enter a domain name such as chat.example.com: no http://, no port, no path."))
    return domain


def verify_file_check(name: object, data: object) -> tuple[str, str]:
    """(name, content) of an uploaded verification file, or ChatError `invalid`: WeChat's name
    MP_verify_<letters and digits>.txt, at most 1 KB, whose content is letters and digits."""
    if not isinstance(name, str) or not VERIFY_FILE_NAME.fullmatch(name):
        raise ChatError(
            "invalid", _("Upload the file WeChat gave you, named like MP_verify_AbC123xyz.txt (unchanged).")
        )
    if not isinstance(data, bytes) or len(data) > VERIFY_FILE_MAX_BYTES:
        raise ChatError("invalid", _("A verification file is at most 1 KB."))
    try:
        content = data.decode("ascii").strip()
    except UnicodeDecodeError:
        content = ""
    if not VERIFY_CONTENT.fullmatch(content):
        raise ChatError("invalid", _("This is not WeChat's verification file: its content must be letters and digits."))
    return name, content


def _verify_audit(actor: Any, enterprise_id: int, file: WechatVerifyFile, what: str) -> None:
    audit_record(
        action=AuditAction.SETTINGS_CHANGED,
        actor=actor,
        enterprise_id=enterprise_id,
        target_type="wechat_verify_file",
        target_id=file.pk,
        target_name=file.name,
        details={"wechat": what, "domain": file.domain},
    )


@transaction.atomic
def wechat_verify_file_upload(*, actor: Any, name: str, data: bytes, domain: str = "") -> WechatVerifyFile:
    """Store the verification file `name` (its bytes `data`) of `actor`'s enterprise, to be served at
    /<name> for `domain` (any host when ""). The same name and domain again replaces the content.

    (name, domain) is one file for the whole platform: when another enterprise already serves that name
    for that domain it is refused (`taken`), never replaced, and the admin is asked to name their own
    domain. Raises ChatError `forbidden`, `invalid`, `taken`, `too_many`. Audited."""
    enterprise_id = _actor_enterprise(actor)
    name, content = verify_file_check(name, data)
    domain = verify_domain_check(domain)
    Enterprise.objects.select_for_update().filter(pk=enterprise_id).first()  # one upload at a time
    existing = WechatVerifyFile.objects.filter(name=name, domain=domain).first()
    if existing is not None and existing.enterprise_id != enterprise_id:
        raise ChatError("taken", _taken_message(name, domain), 409)
    if existing is not None:
        existing.content = content
        existing.uploaded_at = timezone.now()
        existing.save(update_fields=["content", "uploaded_at"])
        _verify_audit(actor, enterprise_id, existing, "verify_file_replaced")
        return existing
    if WechatVerifyFile.objects.filter(enterprise_id=enterprise_id).count() >= VERIFY_FILES_MAX:
        raise ChatError(
            "too_many", _("At most %(limit)d verification files; delete old ones first.") % {"limit": VERIFY_FILES_MAX}
        )
    file = WechatVerifyFile(enterprise_id=enterprise_id, name=name, content=content, domain=domain)
    try:
        with nested_savepoint():
            file.save(force_insert=True)
    except IntegrityError:  # another enterprise's upload of the same file got there first
        raise ChatError("taken", _taken_message(name, domain), 409) from None
    _verify_audit(actor, enterprise_id, file, "verify_file_added")
    return file


def _taken_message(name: str, domain: str) -> str:
    if domain:
        text = _("Another enterprise already serves %(name)s for %(domain)s.")
    else:
        text = _("Another enterprise already serves %(name)s for every domain.")
    hint = _("Enter the domain your pages use (the one set in WeChat's console) and upload it again.")
    return f"{text % {'name': name, 'domain': domain}} {hint}"


@transaction.atomic
def wechat_verify_file_delete(*, actor: Any, file_id: object) -> None:
    """Delete a verification file of `actor`'s enterprise. ChatError `not_found` for another enterprise's
    file exactly as for a missing one; `forbidden`. Audited."""
    enterprise_id = _actor_enterprise(actor)
    file = verify_file_of(enterprise_id, file_id)
    if file is None:
        raise not_found(_("Verification file"))
    _verify_audit(actor, enterprise_id, file, "verify_file_deleted")
    file.delete()
