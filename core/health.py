"""Which shared services this process can reach now, told in one log line per outage, not one per frame.

Redis carries the channel layer, presence and rate limits. When it is away the chat degrades instead of
failing (docs/protocol.md section 7): messages are still stored and acknowledged, rate limits are counted
per process, new sockets are refused with 1013, and once the layer is back every socket that was open
while pushes could be lost is sent what it missed (chat/realtime/healing.py).
"""

from __future__ import annotations

import asyncio
import logging
import time

from django.db import InterfaceError, OperationalError
from redis.exceptions import RedisError

logger = logging.getLogger("core.health")

REDIS = "redis"
DATABASE = "database"
LAYER = "channel layer"

# What a service being away raises: answered as "unavailable" (or server_error for a frame), logged once.
INFRASTRUCTURE_ERRORS: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    RedisError,
    OSError,
    asyncio.TimeoutError,
)

_down: dict[str, float] = {}  # component -> when this process first saw it fail


def failed(component: str, exc: BaseException | None = None) -> None:
    """Record a failure to use `component`; the first of an outage is logged, the rest are counted silently."""
    if component not in _down:
        _down[component] = time.monotonic()
        logger.error("%s unreachable: %s", component, _describe(exc))


def recovered(component: str) -> None:
    """Record a success; logs the end of an outage once."""
    started = _down.pop(component, None)
    if started is not None:
        logger.warning("%s reachable again after %.1f s", component, time.monotonic() - started)


def component_of(exc: BaseException) -> str:
    return DATABASE if isinstance(exc, OperationalError | InterfaceError) else REDIS


def _describe(exc: BaseException | None) -> str:
    if exc is None:
        return "no answer"
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


def reset() -> None:
    """Tests: forget every outage."""
    _down.clear()
