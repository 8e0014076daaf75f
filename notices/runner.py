"""Runs the alert sweep from a server process's heartbeat loop, in a thread of its own: an SMTP exchange
that hangs until EMAIL_TIMEOUT must delay neither the heartbeats nor the consumers' database thread."""

from __future__ import annotations

import asyncio
import logging
import time

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections, connections

from .alerts import alerts_sweep, mail_configured

logger = logging.getLogger(__name__)

_last = 0.0
_task: asyncio.Task[None] | None = None


def _sweep_in_thread() -> None:
    close_old_connections()
    try:
        alerts_sweep()
    except Exception:
        logger.exception("e-mail alert sweep failed")
    finally:
        connections.close_all()  # this thread's own connections; the next sweep may run in another thread


async def _run() -> None:
    await sync_to_async(_sweep_in_thread, thread_sensitive=False)()


def tick() -> None:
    """Start a sweep when one is due and none of this process is running; returns at once."""
    global _last, _task
    if not mail_configured():
        return
    now = time.monotonic()
    if now - _last < float(settings.GOFLY["ALERT_SWEEP_SECONDS"]):
        return
    if _task is not None and not _task.done():
        return
    _last = now
    _task = asyncio.get_running_loop().create_task(_run())


async def on_heartbeat(_: None) -> None:
    """chat.hooks.periodic_chore: start the alert sweep when it is due."""
    tick()
