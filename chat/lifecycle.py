"""The websockets open in this process, so that they can be closed together: on shutdown (1012, the client
reconnects to another process) and after the channel layer may have lost pushes to them (see chat/health.py)."""

from __future__ import annotations

import asyncio
import logging
import weakref
from typing import Protocol

logger = logging.getLogger(__name__)

# RFC 6455 close codes the clients of docs/protocol.md reconnect after.
CLOSE_GOING_AWAY = 1001
CLOSE_SERVICE_RESTART = 1012
CLOSE_TRY_AGAIN_LATER = 1013


class Closable(Protocol):
    layer_epoch: int

    async def close_for(self, code: int, reason: str) -> None: ...


_live: weakref.WeakSet[Closable] = weakref.WeakSet()
_stopping = False


def register(socket: Closable) -> None:
    _live.add(socket)


def unregister(socket: Closable) -> None:
    _live.discard(socket)


def stopping() -> bool:
    """True once the process is shutting down: new sockets are refused so that clients go elsewhere."""
    return _stopping


def live_count() -> int:
    return len(_live)


async def _close(sockets: list[Closable], code: int, reason: str) -> int:
    if sockets:
        results = await asyncio.gather(*(s.close_for(code, reason) for s in sockets), return_exceptions=True)
        failed = [r for r in results if isinstance(r, BaseException)]
        if failed:
            logger.warning("closing %d of %d sockets failed: %r", len(failed), len(sockets), failed[0])
    return len(sockets)


async def close_all(code: int = CLOSE_SERVICE_RESTART, reason: str = "server restart", drain: float = 3.0) -> int:
    """Close every socket of this process with `code` and refuse new ones; how many were open.

    Then wait (at most `drain` seconds) until the messages already received are stored and announced:
    their senders may never hear the ack, but their resends find them stored.
    """
    global _stopping
    _stopping = True
    closed = await _close(list(_live), code, reason)
    from . import batching, broadcast  # here: both import modules that import this one

    try:
        async with asyncio.timeout(drain):
            await asyncio.sleep(0.1)  # the frames already read reach the batcher
            await batching.message_create.idle()
            await broadcast.idle()
    except TimeoutError:
        logger.warning("stopping: messages still being stored or announced after %.1f s", drain)
    return closed


async def close_older_than(epoch: int, code: int = CLOSE_SERVICE_RESTART, reason: str = "resync") -> int:
    """Close the sockets that subscribed before layer epoch `epoch`: pushes to them may have been lost, and
    their clients' reconnect-and-sync (docs/protocol.md section 7) fills the gap."""
    return await _close([s for s in list(_live) if s.layer_epoch < epoch], code, reason)


def reset() -> None:
    """Tests: forget the stopping flag."""
    global _stopping
    _stopping = False
