"""Writes about enterprises: creation and the settings enterprise admins change (blocks: blacklist.services)."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import ChatError

from .audit import audit_record
from .models import AuditAction, Enterprise, validate_origin_lines
from .origins import origin_normalize, served_here


@transaction.atomic
def enterprise_create(*, name: str, offline_text: str = "", offline_text_en: str = "") -> Enterprise:
    """A new enterprise. Its welcome texts are replies' WelcomeText rows (replies.services.welcome_text_seed)."""
    return Enterprise.objects.create(name=name, offline_text=offline_text, offline_text_en=offline_text_en)


def landing_domain_error() -> str:
    """Why a landing domain is refused, in the reader's language."""
    return _("Enter an origin such as https://chat.example.com (no path).")


def landing_domain_clean(value: object) -> str:
    """A landing domain as stored: a normalised origin on one of this server's hosts, or "" for none;
    ChatError `invalid` otherwise."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return ""
    normal = origin_normalize(value) if isinstance(value, str) and len(value) <= 200 else None
    if normal is None:
        raise ChatError("invalid", landing_domain_error())
    if not served_here(normal):
        raise ChatError(
            "invalid",
            _("%(value)s is not one of this server's hosts (ALLOWED_HOSTS): the landing domain must reach GoFly.")
            % {"value": normal},
        )
    return normal


def enterprise_landing_domain_set(*, enterprise_id: int, landing_domain: object) -> str:
    """Set (or clear, with "") the origin the enterprise's visitor chat pages are redirected to; the caller
    has checked that its user may change the enterprise's settings."""
    value = landing_domain_clean(landing_domain)
    with transaction.atomic():
        Enterprise.objects.filter(pk=enterprise_id).update(landing_domain=value)
    return value


def _audit_settings(actor: Any, enterprise: Enterprise, action: AuditAction, **details: object) -> None:
    audit_record(
        action=action,
        actor=actor,
        enterprise_id=enterprise.pk,
        target_type="enterprise",
        target_id=enterprise.pk,
        target_name=enterprise.name,
        details=details,
    )


@transaction.atomic
def enterprise_allowed_origins_set(*, actor: Any, enterprise_id: int, value: object) -> str:
    """The origins whose pages may run the widget and frame the chat page, one per line ("" : any); the
    caller has checked that `actor` may change the enterprise's settings. Audited."""
    if not isinstance(value, str) or len(value) > 5000:
        raise ChatError("invalid", _("List at most a few dozen origins, one per line."))
    try:
        validate_origin_lines(value)
    except ValidationError as invalid:
        raise ChatError("invalid", " ".join(invalid.messages)) from None
    lines = [origin_normalize(line) or line.strip() for line in value.splitlines() if line.strip()]
    text = "\n".join(dict.fromkeys(lines))
    enterprise = Enterprise.objects.select_for_update().get(pk=enterprise_id)
    enterprise.allowed_origins = text
    enterprise.save(update_fields=["allowed_origins"])
    _audit_settings(actor, enterprise, AuditAction.SETTINGS_CHANGED, allowed_origins=lines)
    return text


# How long a rotated identity secret is still honoured (the deploy page offers these); "none": not at all.
IDENTITY_GRACES: dict[str, timedelta] = {
    "none": timedelta(0),
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
}
IDENTITY_GRACE_DEFAULT = "24h"
_IDENTITY_FIELDS = ["identity_secret", "identity_secret_previous", "identity_secret_previous_until"]


@transaction.atomic
def enterprise_identity_secret_set(*, actor: Any, enterprise_id: int, generate: bool) -> str:
    """A new random identity secret (`generate`), or none: returned once, for the admin to copy to their
    server, and never shown again. Visitor tokens issued under the old one stop working and their sockets
    close (chat.tenants); a previous secret a rotation kept in its grace is forgotten too. The caller has
    checked that `actor` may change the enterprise's settings. Audited, without the secret."""
    secret = secrets.token_urlsafe(32) if generate else ""
    enterprise = Enterprise.objects.select_for_update().get(pk=enterprise_id)
    enterprise.identity_secret = secret
    enterprise.identity_secret_previous, enterprise.identity_secret_previous_until = "", None
    enterprise.save(update_fields=_IDENTITY_FIELDS)
    _audit_settings(actor, enterprise, AuditAction.IDENTITY_SECRET_SET, required=bool(secret))
    return secret


@transaction.atomic
def enterprise_identity_secret_rotate(*, actor: Any, enterprise_id: int, grace: object) -> str:
    """A new random identity secret, returned once as by enterprise_identity_secret_set. For the `grace` (a
    key of IDENTITY_GRACES) the secret it replaces is still honoured: identities signed with it, and visitor
    tokens issued under it (enterprises.identity.identity_secret_previous_live), so that the operator can
    put the new one on their server meanwhile without signing anyone out. A previous secret kept from an
    earlier rotation is dropped (its tokens' sockets close: chat.tenants). Without a grace, or without a
    secret to replace, it is enterprise_identity_secret_set's. The caller has checked that `actor` may change
    the enterprise's settings. Audited with the grace, never a secret."""
    if not isinstance(grace, str) or grace not in IDENTITY_GRACES:
        raise ChatError("invalid", _("Choose how long the old secret keeps working from the list."))
    enterprise = Enterprise.objects.select_for_update().get(pk=enterprise_id)
    if not enterprise.identity_secret:
        return enterprise_identity_secret_set(actor=actor, enterprise_id=enterprise_id, generate=True)
    secret = secrets.token_urlsafe(32)
    until = timezone.now() + IDENTITY_GRACES[grace] if IDENTITY_GRACES[grace] else None
    enterprise.identity_secret_previous = enterprise.identity_secret if until else ""
    enterprise.identity_secret_previous_until = until
    enterprise.identity_secret = secret
    enterprise.save(update_fields=_IDENTITY_FIELDS)
    _audit_settings(
        actor,
        enterprise,
        AuditAction.IDENTITY_SECRET_ROTATED,
        grace=grace,
        previous_until=until.isoformat() if until else None,
    )
    return secret


def enterprise_identity_previous_expire(*, now: datetime | None = None) -> list[int]:
    """Forget the previous identity secrets whose grace is over; the ids of the enterprises concerned. Not
    needed for correctness (the deadline is checked where the secret is used), but the save is what closes,
    on every process, the visitor sockets still open under the forgotten secret (chat.tenants, whose
    periodic chore calls this). One transaction per enterprise, its row locked and checked again: of the
    processes running this at once, one clears and announces it."""
    now = now or timezone.now()
    due = Enterprise.objects.filter(identity_secret_previous_until__lte=now).values_list("pk", flat=True)
    cleared = []
    for pk in list(due):
        with transaction.atomic():
            enterprise = (
                Enterprise.objects.select_for_update().filter(pk=pk, identity_secret_previous_until__lte=now).first()
            )
            if enterprise is None:
                continue
            enterprise.identity_secret_previous, enterprise.identity_secret_previous_until = "", None
            enterprise.save(update_fields=_IDENTITY_FIELDS[1:])
        cleared.append(pk)
    return cleared


def identity_secret_masked(secret: str) -> str:
    """What a page shows of a stored identity secret: its first four characters."""
    return f"{secret[:4]}{'•' * 12}" if secret else ""


@transaction.atomic
def enterprise_active_set(*, actor: Any, enterprise_id: int, active: bool) -> Enterprise:
    """Suspend (its agents and visitors are shut out, their sockets closed on every process: chat.tenants)
    or resume an enterprise; a superadmin's act, audited."""
    enterprise = Enterprise.objects.select_for_update().get(pk=enterprise_id)
    if enterprise.is_active != active:
        enterprise.is_active = active
        enterprise.save(update_fields=["is_active"])
        action = AuditAction.ENTERPRISE_RESUMED if active else AuditAction.ENTERPRISE_SUSPENDED
        _audit_settings(actor, enterprise, action)
    return enterprise


def enterprise_holdings(enterprise: Enterprise) -> list[tuple[str, str, int]]:
    """What deleting an enterprise deletes with it: (model label, what, how many) of every table that
    points at it, hidden relations (related_name="+": messages, conversations...) included."""
    held = []
    for relation in Enterprise._meta.get_fields(include_hidden=True):
        if not (relation.auto_created and not relation.concrete and (relation.one_to_many or relation.one_to_one)):
            continue
        if getattr(relation, "on_delete", None) is not models.CASCADE:
            continue
        model = relation.related_model
        number = model._default_manager.filter(**{relation.field.name: enterprise}).count()  # type: ignore[union-attr]
        if number:
            held.append((model._meta.label, str(model._meta.verbose_name_plural), number))  # type: ignore[union-attr]
    return sorted(held)


@transaction.atomic
def enterprise_delete(*, actor: Any, enterprise_id: int, confirm_name: str) -> list[tuple[str, str, int]]:
    """Delete an enterprise with everything it holds (visitors, conversations, messages and their uploads'
    files, agents, settings); refused unless `confirm_name` is its name exactly. Its audit entries stay,
    detached and named; the answer is what went."""
    enterprise = Enterprise.objects.select_for_update().filter(pk=enterprise_id).first()
    if enterprise is None:
        raise ChatError("not_found", _("Enterprise not found."), 404)
    if confirm_name != enterprise.name:
        raise ChatError("invalid", _("Type the enterprise's name exactly to delete it."))
    held = enterprise_holdings(enterprise)
    audit_record(
        action=AuditAction.ENTERPRISE_DELETED,
        actor=actor,
        target_type="enterprise",
        target_id=enterprise.pk,
        target_name=enterprise.name,
        details={label: number for label, _what, number in held},
    )
    enterprise.delete()
    return held
