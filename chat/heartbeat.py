"""This process's share of presence: it beats for its own connections, sweeps everyone's expired ones, and
closes idle conversations."""

from __future__ import annotations

import asyncio
import logging
import time
import weakref

from channels.db import database_sync_to_async
from django.conf import settings

from core import health
from notices import runner as alerts_runner

from . import conversations, services
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


_CHORES_EVERY = 60.0  # seconds between two passes over the conversations
_chores_done = 0.0


async def _desk_chores() -> None:
    """Close the conversations idle for longer than their enterprise allows, and give out waiting ones that
    an agent has room for. Every process may run them: each change is a conditional UPDATE, so it is
    made and announced once."""
    global _chores_done
    now = time.monotonic()
    if now - _chores_done < _CHORES_EVERY:
        return
    _chores_done = now
    await database_sync_to_async(conversations.conversations_close_idle)()
    await database_sync_to_async(conversations.queues_offer_all)()


async def _run() -> None:
    presence = get_presence()
    interval = float(settings.GOFLY["HEARTBEAT"])
    while _local:
        await asyncio.sleep(interval)
        try:
            await presence.beat(list(_local.values()))
            await services.presence_expired(gone=await presence.sweep())
            await _desk_chores()
            alerts_runner.tick()  # e-mail alerts to away agents, in a thread of their own
        except health.INFRASTRUCTURE_ERRORS as exc:  # a Redis blip must not end the beating; the next round retries
            health.failed(health.REDIS, exc)
        except Exception:
            logger.exception("presence heartbeat failed")
        else:
            health.recovered(health.REDIS)
