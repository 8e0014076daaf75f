"""Publishing frames to channel-layer groups, only after the surrounding transaction commits."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import weakref
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from redis.exceptions import RedisError

from core import health

from .. import frames
from .layers import group_send_many

logger = logging.getLogger(__name__)

_PENDING_MAX = 50_000  # events kept for a retry while Redis is away (~ a few MB); older ones are dropped
_RETRY_FIRST, _RETRY_MAX = 0.2, 2.0

# The event loop of the consumer whose service call this is. Context variables follow a call into
# database_sync_to_async's thread, so a service there can hand its publishing back to the loop.
_event_loop: contextvars.ContextVar[asyncio.AbstractEventLoop | None] = contextvars.ContextVar(
    "gofly_event_loop", default=None
)


def _loop_in_this_thread() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def bind_event_loop() -> None:
    """Called by consumers: services they call publish on this loop without waiting for it."""
    _event_loop.set(asyncio.get_running_loop())


Events = list[tuple[str, dict[str, Any]]]


class _Retry:
    """The publishes of one event loop that failed, sent again in order once the layer answers.

    A message is stored before it is published, so a failed publish loses no data; but a client on
    another process whose subscription never broke would keep a gap, since nothing tells it to sync.
    """

    def __init__(self) -> None:
        self.pending: deque[tuple[str, dict[str, Any]]] = deque()
        self.task: asyncio.Task[None] | None = None
        self.dropped = 0
        # Publishes go out one after the other, in the order they were scheduled: a layer whose send can
        # yield (the in-memory one) would otherwise let a later batch overtake an earlier one.
        self.turn = asyncio.Lock()

    def add(self, events: Events) -> None:
        self.pending.extend(events)
        overflow = len(self.pending) - _PENDING_MAX
        if overflow > 0:
            for _ in range(overflow):
                self.pending.popleft()
            if not self.dropped:
                logger.error("publish retry queue full: dropping the oldest events (clients sync on reconnect)")
            self.dropped += overflow
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        delay = _RETRY_FIRST
        try:
            while self.pending:
                await asyncio.sleep(delay)
                batch = list(self.pending)
                try:
                    await group_send_many(get_channel_layer(), batch)
                except (RedisError, OSError) as exc:
                    health.failed(health.LAYER, exc)
                    delay = min(delay * 2, _RETRY_MAX)
                    continue
                for _ in batch:
                    self.pending.popleft()
                logger.warning("published %d events held while the channel layer was away", len(batch))
                delay = _RETRY_FIRST
        finally:
            self.task = None
            self.dropped = 0


_retries: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Retry] = weakref.WeakKeyDictionary()


async def idle() -> None:
    """Wait until the publishes held for a retry on this event loop are sent (shutdown; bound it)."""
    retry = _retries.get(asyncio.get_running_loop())
    while retry is not None and retry.pending:  # noqa: ASYNC110 - polled once, at shutdown
        await asyncio.sleep(0.05)


async def _publish(items: Events) -> None:
    loop = asyncio.get_running_loop()
    retry = _retries.get(loop)
    if retry is None:
        retry = _retries[loop] = _Retry()
    async with retry.turn:
        if retry.pending:  # behind the ones waiting, so that each conversation keeps its order
            retry.add(items)
            return
        try:
            await group_send_many(get_channel_layer(), items)
        except (RedisError, OSError) as exc:
            health.failed(health.LAYER, exc)
            retry.add(items)


def _log_failure(future: Any) -> None:
    if not future.cancelled() and future.exception() is not None:
        # Clients recover what a lost publish would have carried with their next `sync`.
        logger.error("publish failed", exc_info=future.exception())


def publish_on_commit(items: Events, *, redelivery: bool = False) -> None:
    """Send each (group, frame) once the current transaction commits (at once outside a transaction).

    From a consumer the publish is scheduled on its event loop and the database thread goes on at once;
    tasks start in call order and the layer sends in order, so messages keep their order. Elsewhere
    (HTTP views, commands) it is sent before returning. A publish the layer refuses (Redis away) is kept
    and sent again when it answers; whatever the layer still drops, clients recover with a `sync`.
    """
    # A frame sent to several groups becomes one event, which the layer serialises once.
    build = frames.redelivery_event if redelivery else frames.event
    shared: dict[int, dict[str, Any]] = {}
    events = [
        (group, shared.get(id(frame_)) or shared.setdefault(id(frame_), build(frame_))) for group, frame_ in items
    ]
    events_publish_on_commit(events)


def events_publish_on_commit(events: list[tuple[str, dict[str, Any]]]) -> None:
    """Send each (group, channel-layer event) once the current transaction commits, as publish_on_commit
    does; for events a consumer acts on itself rather than forwarding (e.g. closing a revoked agent)."""
    loop = _event_loop.get()

    def publish() -> None:
        if loop is not None and loop.is_running():
            asyncio.run_coroutine_threadsafe(_publish(events), loop).add_done_callback(_log_failure)
        elif _loop_in_this_thread():
            # Sync code called from a coroutine that is not a consumer's (a script or test driving an event
            # loop): async_to_sync refuses to run here, so the publish runs on a thread of its own.
            with ThreadPoolExecutor(max_workers=1) as pool:
                pool.submit(async_to_sync(_publish), events).result()
        else:
            async_to_sync(_publish)(events)

    transaction.on_commit(publish)
