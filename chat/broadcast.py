"""Publishing frames to channel-layer groups, only after the surrounding transaction commits."""

from __future__ import annotations

import asyncio
import contextvars
import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from . import frames
from .layers import group_send_many

logger = logging.getLogger(__name__)

# The event loop of the consumer whose service call this is. Context variables follow a call into
# database_sync_to_async's thread, so a service there can hand its publishing back to the loop.
_event_loop: contextvars.ContextVar[asyncio.AbstractEventLoop | None] = contextvars.ContextVar(
    "gofly_event_loop", default=None
)


def bind_event_loop() -> None:
    """Called by consumers: services they call publish on this loop without waiting for it."""
    _event_loop.set(asyncio.get_running_loop())


async def _publish(items: list[tuple[str, dict[str, Any]]]) -> None:
    await group_send_many(get_channel_layer(), items)


def _log_failure(future: Any) -> None:
    if not future.cancelled() and future.exception() is not None:
        # Clients recover what a lost publish would have carried with their next `sync`.
        logger.error("publish failed", exc_info=future.exception())


def publish_on_commit(items: list[tuple[str, dict[str, Any]]]) -> None:
    """Send each (group, frame) once the current transaction commits (at once outside a transaction).

    From a consumer the publish is scheduled on its event loop and the database thread goes on at once;
    tasks start in call order and the layer sends in order, so messages keep their order. Elsewhere
    (HTTP views, commands) it is sent before returning. The channel layer is lossy by design; clients
    recover anything it drops with a `sync` frame.
    """
    # A frame sent to several groups becomes one event, which the layer serialises once.
    shared: dict[int, dict[str, Any]] = {}
    events = [
        (group, shared.get(id(frame_)) or shared.setdefault(id(frame_), frames.event(frame_)))
        for group, frame_ in items
    ]
    events_publish_on_commit(events)


def events_publish_on_commit(events: list[tuple[str, dict[str, Any]]]) -> None:
    """Send each (group, channel-layer event) once the current transaction commits, as publish_on_commit
    does; for events a consumer acts on itself rather than forwarding (e.g. closing a revoked agent)."""
    loop = _event_loop.get()

    def publish() -> None:
        if loop is not None and loop.is_running():
            asyncio.run_coroutine_threadsafe(_publish(events), loop).add_done_callback(_log_failure)
        else:
            async_to_sync(_publish)(events)

    transaction.on_commit(publish)
