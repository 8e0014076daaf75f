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


def _bucket(key: str, window: int) -> str:
    return f"{settings.GOFLY_REDIS_PREFIX}:rl:{key}:{int(time.time() // window)}"


def _cache_hit(bucket: str, window: int) -> int:
    if cache.add(bucket, 1, timeout=window + 1):
        return 1
    try:
        return cache.incr(bucket)
    except ValueError:  # expired between add and incr
        cache.add(bucket, 1, timeout=window + 1)
        return 1


def rate_limits_allow(hits: list[tuple[str, int, int]]) -> list[bool]:
    """Count one hit per (key, limit, window); for each, whether it is within its limit.

    With Redis, one round trip for all of them: count, and let each window's key expire with it.
    """
    buckets = [(_bucket(key, window), limit, window) for key, limit, window in hits]
    if not settings.REDIS_URL:
        return [_cache_hit(bucket, window) <= limit for bucket, limit, window in buckets]
    pipe = _redis().pipeline(transaction=False)
    for bucket, _limit, window in buckets:
        pipe.incr(bucket)
        pipe.expire(bucket, window + 1, nx=True)
    counts = pipe.execute()[::2]
    return [int(count) <= limit for count, (_bucket_, limit, _window) in zip(counts, buckets, strict=True)]


def rate_limited_error() -> ChatError:
    return ChatError("rate_limited", _("Too many requests; slow down and retry shortly."), 429)


def rate_limit(key: str, limit: int, window: int) -> None:
    """Count one hit on `key`; raise ChatError('rate_limited') past `limit` hits in the current window."""
    if not rate_limits_allow([(key, limit, window)])[0]:
        raise rate_limited_error()


def rate_limits_clear() -> None:
    """Forget every count (tests)."""
    if settings.REDIS_URL:
        for key in _redis().scan_iter(match=f"{settings.GOFLY_REDIS_PREFIX}:rl:*", count=1000):
            _redis().delete(key)
    cache.clear()
