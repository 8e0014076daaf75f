"""Fixed-window rate limits kept in Redis when configured (so they hold across processes), else in the cache."""

from __future__ import annotations

import time
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext as _

from .errors import ChatError


@lru_cache(maxsize=1)
def _redis() -> Any:
    import redis

    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5)


def _hit(bucket: str, window: int) -> int:
    if settings.REDIS_URL:
        # One round trip: count, and let the window's key expire with the window.
        pipe = _redis().pipeline(transaction=False)
        pipe.incr(bucket)
        pipe.expire(bucket, window + 1, nx=True)
        hits, _expire = pipe.execute()
        return int(hits)
    if cache.add(bucket, 1, timeout=window + 1):
        return 1
    try:
        return cache.incr(bucket)
    except ValueError:  # expired between add and incr
        cache.add(bucket, 1, timeout=window + 1)
        return 1


def rate_limit(key: str, limit: int, window: int) -> None:
    """Count one hit on `key`; raise ChatError('rate_limited') past `limit` hits in the current window."""
    bucket = f"{settings.GOFLY_REDIS_PREFIX}:rl:{key}:{int(time.time() // window)}"
    if _hit(bucket, window) > limit:
        raise ChatError("rate_limited", _("Too many requests; slow down and retry shortly."), 429)


def rate_limits_clear() -> None:
    """Forget every count (tests)."""
    if settings.REDIS_URL:
        for key in _redis().scan_iter(match=f"{settings.GOFLY_REDIS_PREFIX}:rl:*", count=1000):
            _redis().delete(key)
    cache.clear()
