"""Reads about enterprises: lookups, with the IP blacklist check where a visitor arrives."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q, Value
from django.utils import timezone

from .models import Enterprise, IPBlacklist, ip_key


def _pk(enterprise_id: object) -> int | None:
    try:
        return int(str(enterprise_id))
    except ValueError:
        return None


def ip_block_live() -> Q:
    """Blacklist entries not expired now: an expiry is checked at each arrival, no cron lifts it."""
    return Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now())


def enterprise_get_active(enterprise_id: object) -> Enterprise | None:
    pk = _pk(enterprise_id)
    return None if pk is None else Enterprise.objects.filter(pk=pk, is_active=True).first()


def enterprise_for_visitor(enterprise_id: object, ip: str | None) -> tuple[Enterprise | None, bool]:
    """The active enterprise and whether `ip` is on its blacklist, in one query (a visitor login's first)."""
    pk = _pk(enterprise_id)
    if pk is None:
        return None, False
    key = ip_key(ip)
    blocked = (
        Exists(IPBlacklist.objects.filter(ip_block_live(), enterprise_id=OuterRef("pk"), start__lte=key, end__gte=key))
        if key
        else Value(False)
    )
    enterprise = Enterprise.objects.filter(pk=pk, is_active=True).annotate(blocked=blocked).first()
    return enterprise, bool(enterprise is not None and enterprise.blocked)  # type: ignore[attr-defined]
