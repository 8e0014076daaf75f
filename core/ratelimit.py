"""Fixed-window rate limits kept in Redis when configured (so they hold across processes), else in the cache.

While Redis is away each process counts in its own memory (docs/protocol.md section 9): a visitor who
reaches several processes may then send a little more than the limit, which is better than refusing
every message of every visitor.
"""

from __future__ import annotations

import threading
import time
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext as _
from redis.exceptions import RedisError

from . import health
from .errors import ChatError


@lru_cache(maxsize=1)
def _redis() -> Any:
    import redis

    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=2)


class _LocalCounts:
    """This process's own fixed-window counts: the fallback while Redis is away."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, tuple[int, float]] = {}  # bucket -> (hits, expires at)

    def hit(self, bucket: str, window: int) -> int:
        now = time.monotonic()
        with self._lock:
            if len(self._counts) > 100_000:
                self._counts = {k: v for k, v in self._counts.items() if v[1] > now}
            count, expires = self._counts.get(bucket, (0, now + window + 1))
            self._counts[bucket] = (count + 1, expires)
            return count + 1


_local = _LocalCounts()


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
    try:
        counts = pipe.execute()[::2]
    except (RedisError, OSError) as exc:
        health.failed(health.REDIS, exc)
        return [_local.hit(bucket, window) <= limit for bucket, limit, window in buckets]
    health.recovered(health.REDIS)
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
    _local._counts.clear()
