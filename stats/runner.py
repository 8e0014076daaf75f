"""Runs the message rollup from a server process's heartbeat, once a minute: in a thread of its own on a
server database; on SQLite (embedded) in the one thread that does all of the process's database work, since
a second writer would make SQLite refuse another transaction's write at once ("database is locked")
instead of waiting for it."""

from __future__ import annotations

import asyncio
import logging
import time

from asgiref.sync import sync_to_async
from django.db import close_old_connections, connection, connections

from core import health

from .rollup import messages_roll_up_all

logger = logging.getLogger(__name__)

EVERY = 60.0  # seconds between two rollups of a process
_last = 0.0
_task: asyncio.Task[None] | None = None


def _roll_up_in_thread() -> None:
    apart = connection.vendor != "sqlite"
    if apart:
        close_old_connections()
    try:
        messages_roll_up_all()
    except Exception as exc:
        component = health.outage_of(exc)
        if component is None:
            logger.exception("statistics rollup failed")
        else:
            health.failed(component, exc)
    finally:
        if apart:
            connections.close_all()  # this thread's own connections; the next rollup may run in another


async def on_heartbeat(_: None) -> None:
    """chat.hooks.periodic_chore: start a rollup when one is due and none of this process is running."""
    global _last, _task
    now = time.monotonic()
    if now - _last < EVERY or (_task is not None and not _task.done()):
        return
    _last = now
    apart = connection.vendor != "sqlite"
    _task = asyncio.get_running_loop().create_task(sync_to_async(_roll_up_in_thread, thread_sensitive=not apart)())
