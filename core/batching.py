"""Database calls of many sockets grouped into one: while a batch is in the database thread, the calls
that arrive wait, then go in together as the next batch (group commit).

A quiet process makes each call at once; a busy one pays one thread hand-off and one set of queries for
many. chat.batching uses it for storing messages and for the lookups of arriving visitor sockets.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Callable
from typing import Generic, TypeVar

from channels.db import database_sync_to_async

from core import health

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


class _Waiting(Generic[T, R]):
    def __init__(self) -> None:
        self.items: list[tuple[T, asyncio.Future[R]]] = []
        self.task: asyncio.Task[None] | None = None


class Batcher(Generic[T, R]):
    """`await batcher(item)`: the result `batch_call` gives for `item`, or the exception it gives for it.

    `batch_call(items)` runs in the database thread and answers each item in order with a result or an
    exception instance; if it raises, every item of its batch gets that exception.
    """

    def __init__(self, name: str, batch_call: Callable[[list[T]], list[R | Exception]], max_size: int = 200):
        self.name = name
        self.batch_call = batch_call
        self.max_size = max_size
        # Tests run several event loops one after the other; each has its own queue.
        self._waiting: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Waiting[T, R]] = (
            weakref.WeakKeyDictionary()
        )

    async def __call__(self, item: T) -> R:
        loop = asyncio.get_running_loop()
        waiting = self._waiting.get(loop)
        if waiting is None:
            waiting = self._waiting[loop] = _Waiting()
        future: asyncio.Future[R] = loop.create_future()
        waiting.items.append((item, future))
        if waiting.task is None:
            waiting.task = loop.create_task(self._drain(waiting))
        # A caller that stops waiting (its socket closed) cancels only its future: the item is still
        # handled with its batch, so a message received is stored even if its ack can't be sent.
        return await future

    async def _drain(self, waiting: _Waiting[T, R]) -> None:
        try:
            while waiting.items:
                batch, waiting.items = waiting.items[: self.max_size], waiting.items[self.max_size :]
                results: list[R | Exception]
                try:
                    # The batch's publishes are scheduled on this loop before this await returns, so each
                    # announcement is written to Redis before its ack is written to its sender.
                    results = await database_sync_to_async(self.batch_call)([item for item, _ in batch])
                except Exception as exc:  # every caller hears of it
                    component = health.outage_of(exc)
                    if component is None:
                        logger.exception("%s: a batch of %d failed", self.name, len(batch))
                    else:  # the database is away: one line per outage, not a traceback per batch
                        health.failed(component, exc)
                    results = [exc] * len(batch)
                else:
                    self._note_health(results)
                self._answer(batch, results)
        finally:
            waiting.task = None

    @staticmethod
    def _note_health(results: list[R | Exception]) -> None:
        """A batch that ran is the database answering, unless it answered an item with an outage (a lost
        connection is returned for the items it cost, not raised): then the outage goes on."""
        away = False
        for result in results:
            if isinstance(result, Exception) and (component := health.outage_of(result)) is not None:
                health.failed(component, result)
                away = away or component == health.DATABASE
        if not away:
            health.recovered(health.DATABASE)

    @staticmethod
    def _answer(batch: list[tuple[T, asyncio.Future[R]]], results: list[R | Exception]) -> None:
        for (_item, future), result in zip(batch, results, strict=True):
            if future.done():
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)

    async def idle(self) -> None:
        """Wait until every call of this event loop is answered (shutdown; bound it with asyncio.timeout)."""
        waiting = self._waiting.get(asyncio.get_running_loop())
        # Polled: it runs once, at shutdown, and an Event would cost every batch a set and a clear.
        while waiting is not None and (waiting.items or waiting.task):  # noqa: ASYNC110
            await asyncio.sleep(0.02)
