"""This process's share of presence: it beats for its own connections and sweeps everyone's expired ones;
each beat, it announces who is gone and runs the periodic chores (chat.hooks)."""

from __future__ import annotations

import asyncio
import logging
import weakref

from django.conf import settings

from core import health

from .. import hooks
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


async def _run() -> None:
    presence = get_presence()
    interval = float(settings.GOFLY["HEARTBEAT"])
    while _local:
        await asyncio.sleep(interval)
        try:
            await presence.beat(list(_local.values()))
            gone = await presence.sweep()
            if gone:
                await hooks.presence_gone.send(gone)
            await hooks.periodic_chore.send(None)
        except health.INFRASTRUCTURE_ERRORS as exc:  # a Redis blip must not end the beating; the next round retries
            health.failed(health.REDIS, exc)
        except Exception:
            logger.exception("presence heartbeat failed")
        else:
            health.recovered(health.REDIS)
