"""Reads about enterprises: lookups and the IP blacklist check."""

from __future__ import annotations

from .models import Enterprise, IPBlacklist


def enterprise_get_active(enterprise_id: object) -> Enterprise | None:
    try:
        pk = int(str(enterprise_id))
    except ValueError:
        return None
    return Enterprise.objects.filter(pk=pk, is_active=True).first()


def ip_is_blacklisted(*, enterprise_id: int, ip: str | None) -> bool:
    return bool(ip) and IPBlacklist.objects.filter(enterprise_id=enterprise_id, ip=ip).exists()
