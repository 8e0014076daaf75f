"""This process's share of presence: it beats for its own connections and sweeps everyone's expired ones."""

from __future__ import annotations

import asyncio
import logging
import weakref

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from . import frames, health
from .presence import AGENT, VISITOR, Presence, get_presence

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


async def announce_expired(gone: list[tuple[int, str, int]]) -> None:
    """Tell agents about visitors whose every process stopped beating, and visitors about agents likewise."""
    if not gone:
        return
    from .models import Visitor

    layer = get_channel_layer()
    assert layer is not None
    presence = get_presence()
    visitor_pks = [pk for _, kind, pk in gone if kind == VISITOR]
    public_ids = dict(
        await database_sync_to_async(
            lambda: list(Visitor.objects.filter(pk__in=visitor_pks).values_list("pk", "visitor_id"))
        )()
    )
    for enterprise_id, kind, pk in gone:
        if kind == VISITOR and pk in public_ids:
            frame = frames.frame("visitor.offline", {"visitor_id": public_ids[pk]})
            await layer.group_send(frames.group_agents(enterprise_id), frames.event(frame))
        elif kind == AGENT:
            count = len(await presence.online(enterprise_id, AGENT))
            await layer.group_send(
                frames.group_visitors(enterprise_id), frames.event(frames.frame("agents", {"online": count}))
            )


async def _run() -> None:
    presence = get_presence()
    interval = float(settings.GOFLY["HEARTBEAT"])
    while _local:
        await asyncio.sleep(interval)
        try:
            await presence.beat(list(_local.values()))
            await announce_expired(await presence.sweep())
        except health.INFRASTRUCTURE_ERRORS as exc:  # a Redis blip must not end the beating; the next round retries
            health.failed(health.REDIS, exc)
        except Exception:
            logger.exception("presence heartbeat failed")
        else:
            health.recovered(health.REDIS)
