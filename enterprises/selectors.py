"""Reads about enterprises: lookups, with the IP blacklist check where a visitor arrives; the platform's
system configuration."""

from __future__ import annotations

from django.core.cache import cache
from django.utils import timezone

from core import health
from core.jsonin import row_id

from .models import Enterprise, IPBlacklist, SystemConfig, block_live, ip_key


def enterprise_get_active(enterprise_id: object) -> Enterprise | None:
    pk = row_id(enterprise_id)
    return None if pk is None else Enterprise.objects.filter(pk=pk, is_active=True).first()


def enterprise_for_visitor(enterprise_id: object, ip: str | None) -> tuple[Enterprise | None, bool]:
    """The active enterprise and whether `ip` is on its blacklist (a visitor login's first queries)."""
    pk = row_id(enterprise_id)
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


_CONFIG_KEY = "gofly:system-config:v1"
_CONFIG_FOR = 30  # seconds a process may show the previous config after a superadmin changed it elsewhere


def system_config() -> SystemConfig:
    """The platform's settings (unsaved defaults before a superadmin saved any), from the cache: every page
    shows them, and must not cost a query each. With the database or the cache away, the defaults."""
    try:
        config = cache.get(_CONFIG_KEY)
        if config is None:
            config = SystemConfig.objects.order_by("pk").first() or SystemConfig()
            cache.set(_CONFIG_KEY, config, timeout=_CONFIG_FOR)
        return config  # type: ignore[no-any-return]
    except Exception as exc:  # an outage: the page goes on with the defaults, one log line per outage
        component = health.outage_of(exc)
        if component is None:
            raise
        health.failed(component, exc)
        return SystemConfig()


def system_config_forget() -> None:
    """The config changed: the next page reads it again (on this process at once, elsewhere within
    _CONFIG_FOR seconds, or at once where the cache is shared)."""
    from .languages import default_language_forget  # it reads system_config

    default_language_forget()
    cache.delete(_CONFIG_KEY)
