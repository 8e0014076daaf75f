"""Fixed-window rate limits kept in the cache (Redis when configured), so they hold across processes."""

from __future__ import annotations

import time

from django.core.cache import cache
from django.utils.translation import gettext as _

from .errors import ChatError


def rate_limit(key: str, limit: int, window: int) -> None:
    """Count one hit on `key`; raise ChatError('rate_limited') past `limit` hits in the current window."""
    bucket = f"rl:{key}:{int(time.time() // window)}"
    if cache.add(bucket, 1, timeout=window + 1):
        return
    try:
        hits = cache.incr(bucket)
    except ValueError:  # expired between add and incr
        cache.add(bucket, 1, timeout=window + 1)
        return
    if hits > limit:
        raise ChatError("rate_limited", _("Too many requests; slow down and retry shortly."), 429)
