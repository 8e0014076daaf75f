"""Reads about enterprises: lookups, with the IP blacklist check where a visitor arrives."""

from __future__ import annotations

from django.utils import timezone

from .models import Enterprise, IPBlacklist, block_live, ip_key


def _pk(enterprise_id: object) -> int | None:
    try:
        return int(str(enterprise_id))
    except ValueError:
        return None


def enterprise_get_active(enterprise_id: object) -> Enterprise | None:
    pk = _pk(enterprise_id)
    return None if pk is None else Enterprise.objects.filter(pk=pk, is_active=True).first()


def enterprise_for_visitor(enterprise_id: object, ip: str | None) -> tuple[Enterprise | None, bool]:
    """The active enterprise and whether `ip` is on its blacklist (a visitor login's first queries)."""
    pk = _pk(enterprise_id)
    if pk is None:
        return None, False
    enterprise = Enterprise.objects.filter(pk=pk, is_active=True).first()
    return enterprise, enterprise is not None and ip_blacklisted(pk, ip)


def ip_blacklisted(enterprise_id: int, ip: str | None) -> bool:
    """Whether `ip` falls in one of the enterprise's blacklist entries that has not expired.

    A plain query, the expiry checked here: the networks that hold one address are few (one per prefix
    length at most), and the expiry's OR inside an Exists subquery of the enterprise's query cost a login
    more ORM time than this second query does (bench/README.md, session 10)."""
    key = ip_key(ip)
    if not key:
        return False
    now = timezone.now()
    found = IPBlacklist.objects.filter(enterprise_id=enterprise_id, start__lte=key, end__gte=key)
    return any(block_live(until, now) for until in found.values_list("expires_at", flat=True))
