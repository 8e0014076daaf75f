"""The audit log's one write: who did what to whom, from the client address of the request or socket."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from core.clientip import current_address

from .models import AuditAction, AuditEntry

_DETAIL_MAX = 2000  # characters of JSON: an entry says what changed, it does not archive it


def audit_record(
    *,
    action: AuditAction,
    actor: Any = None,
    enterprise_id: int | None = None,
    target_type: str = "",
    target_id: object = "",
    target_name: str = "",
    details: dict[str, Any] | None = None,
    actor_name: str = "",
) -> AuditEntry:
    """Record `action` by `actor` (a user, or None for the system or an unknown login name given in
    `actor_name`) in `enterprise_id` (default: the actor's; None: the platform). Part of the caller's
    transaction: an action rolled back leaves no entry, and no action commits without its entry."""
    if enterprise_id is None and actor is not None:
        enterprise_id = getattr(actor, "enterprise_id", None)
    name = actor_name or (getattr(actor, "username", "") if actor is not None else "")
    details = details or {}
    if len(repr(details)) > _DETAIL_MAX:
        details = {"truncated": repr(details)[:_DETAIL_MAX]}
    with transaction.atomic():
        return AuditEntry.objects.create(
            enterprise_id=enterprise_id,
            actor=actor if actor is not None and getattr(actor, "pk", None) else None,
            actor_name=name[:150],
            action=action,
            target_type=target_type[:32],
            target_id=str(target_id)[:64],
            target_name=target_name[:200],
            address=current_address.get(),
            details=details,
        )
