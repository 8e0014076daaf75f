"""The messages of every socket of this process, stored in batches: one database call per batch.

A message that arrives while a batch is being stored waits for the next one, which then takes all
that waited (group commit). A quiet process stores each message at once; a busy one pays one thread
hand-off, one rate-limit round trip and one INSERT for many messages instead of one each.
"""

from __future__ import annotations

import asyncio
import logging
import weakref

from channels.db import database_sync_to_async

from . import services
from .errors import ChatError
from .models import Message

logger = logging.getLogger(__name__)

BATCH_MAX = 200


class MessageWriter:
    def __init__(self) -> None:
        self.waiting: list[tuple[services.NewMessage, asyncio.Future[tuple[Message, bool]]]] = []
        self.task: asyncio.Task[None] | None = None

    async def create(self, new: services.NewMessage) -> tuple[Message, bool]:
        """Store `new` (see services.messages_create); raises the ChatError that refused it."""
        future: asyncio.Future[tuple[Message, bool]] = asyncio.get_running_loop().create_future()
        self.waiting.append((new, future))
        if self.task is None:
            self.task = asyncio.create_task(self._drain())
        # A socket that closes meanwhile stops waiting (the future is cancelled); the message is stored
        # all the same, as when it closes during a single INSERT.
        return await future

    async def _drain(self) -> None:
        try:
            while self.waiting:
                batch, self.waiting = self.waiting[:BATCH_MAX], self.waiting[BATCH_MAX:]
                results: list[tuple[Message, bool] | ChatError] | list[Exception]
                try:
                    results = await database_sync_to_async(services.messages_create)([new for new, _ in batch])
                except Exception as exc:  # e.g. the database is down: every sender hears of it
                    logger.exception("storing %d messages failed", len(batch))
                    results = [exc] * len(batch)
                for (_new, future), result in zip(batch, results, strict=True):
                    if future.done():
                        continue
                    if isinstance(result, Exception):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
        finally:
            self.task = None


_writers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, MessageWriter] = weakref.WeakKeyDictionary()


def get_writer() -> MessageWriter:
    """The writer of the running event loop (tests run several loops, one after the other)."""
    loop = asyncio.get_running_loop()
    writer = _writers.get(loop)
    if writer is None:
        writer = _writers[loop] = MessageWriter()
    return writer
