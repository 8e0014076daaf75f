"""This process's share of presence: it beats for its own connections, sweeps everyone's expired ones, and
closes idle conversations."""

from __future__ import annotations

import asyncio
import logging
import time
import weakref

from channels.db import database_sync_to_async
from django.conf import settings

from . import conversations, health, services
from .presence import Presence, get_presence

logger = logging.getLogger(__name__)

_local: dict[str, Presence] = {}
_tasks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Task[None]] = weakref.WeakKeyDictionary()


def register(entry: Presence) -> None:
    _local[entry.channel] = entry
    loop = asyncio.get_running_loop()
    task = _tasks.get(loop)
    if task is None or task.done():
        _tasks[loop] = loop.create_task(_run())


def unregister(entry: Presence) -> None:
    _local.pop(entry.channel, None)


_IDLE_EVERY = 60.0  # seconds between two passes closing idle conversations
_idle_checked = 0.0


async def _close_idle() -> None:
    """Close the conversations idle for longer than their enterprise allows. Every process may run it: each
    close is a conditional UPDATE, so a conversation is closed and announced once."""
    global _idle_checked
    now = time.monotonic()
    if now - _idle_checked < _IDLE_EVERY:
        return
    _idle_checked = now
    await database_sync_to_async(conversations.conversations_close_idle)()


async def _run() -> None:
    presence = get_presence()
    interval = float(settings.GOFLY["HEARTBEAT"])
    while _local:
        await asyncio.sleep(interval)
        try:
            await presence.beat(list(_local.values()))
            await services.presence_expired(gone=await presence.sweep())
            await _close_idle()
        except health.INFRASTRUCTURE_ERRORS as exc:  # a Redis blip must not end the beating; the next round retries
            health.failed(health.REDIS, exc)
        except Exception:
            logger.exception("presence heartbeat failed")
        else:
            health.recovered(health.REDIS)
