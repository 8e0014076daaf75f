"""The websockets open in this process, so that they can be closed together on shutdown (1012, the client
reconnects to another process) and given what they missed after the channel layer may have lost pushes to
them (see chat/realtime/layers.py)."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from django.conf import settings

from enterprises.models import ip_network_of

logger = logging.getLogger(__name__)

# RFC 6455 close codes the clients of docs/protocol.md reconnect after.
CLOSE_SERVICE_RESTART = 1012
CLOSE_TRY_AGAIN_LATER = 1013


class Closable(Protocol):
    layer_epoch: int

    async def close_for(self, code: int, reason: str) -> None: ...

    def heal_scope(self) -> tuple[str, int]: ...

    async def deliver_missing(self, payloads: list[dict[str, Any]]) -> None: ...


_live: weakref.WeakSet[Closable] = weakref.WeakSet()
# What must finish before a stopping process exits (the message batcher, the publisher): ChatConfig.ready.
_drains: list[Callable[[], Awaitable[None]]] = []
_stopping = False
# Sockets open in this process per owner (("v", visitor pk) or ("a", agent pk)) and per client network.
_owners: Counter[tuple[str, int]] = Counter()
_networks: Counter[str] = Counter()
_slots: weakref.WeakKeyDictionary[Any, tuple[tuple[str, int], str | None]] = weakref.WeakKeyDictionary()


def on_drain(idle: Callable[[], Awaitable[None]]) -> None:
    """`idle()` returns once the work it stands for is done; close_all awaits it before the process exits."""
    if idle not in _drains:
        _drains.append(idle)


def live_sockets() -> list[Closable]:
    return list(_live)


async def sockets_close(sockets: list[Closable], code: int, reason: str) -> int:
    return await _close(sockets, code, reason)


def register(socket: Closable) -> None:
    _live.add(socket)


def unregister(socket: Closable) -> None:
    _live.discard(socket)


def socket_admit(socket: Any, kind: str, pk: int, ip: str | None) -> str | None:
    """Count a socket that is about to open against the caps of this process (GOFLY_SOCKETS_PER_VISITOR,
    _PER_AGENT and _PER_IP; an IPv6 client counts by its /64): None when it is within them, else which
    cap it would pass ("owner" or "address"), and it is not counted. Caps are per process, like the
    memory they protect; socket_release gives the slot back."""
    owner = (kind, pk)
    owner_cap = settings.GOFLY["SOCKETS_PER_VISITOR" if kind == "v" else "SOCKETS_PER_AGENT"]
    if _owners[owner] >= owner_cap:
        return "owner"
    network = ip_network_of(ip, 32, 64)
    if network is not None and _networks[network] >= settings.GOFLY["SOCKETS_PER_IP"]:
        return "address"
    _owners[owner] += 1
    if network is not None:
        _networks[network] += 1
    _slots[socket] = (owner, network)
    return None


def socket_release(socket: Any) -> None:
    slot = _slots.pop(socket, None)
    if slot is None:
        return
    owner, network = slot
    _owners[owner] -= 1
    if _owners[owner] <= 0:
        del _owners[owner]
    if network is not None:
        _networks[network] -= 1
        if _networks[network] <= 0:
            del _networks[network]


def stopping() -> bool:
    """True once the process is shutting down: new sockets are refused so that clients go elsewhere."""
    return _stopping


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

    try:
        async with asyncio.timeout(drain):
            await asyncio.sleep(0.1)  # the frames already read reach the batcher
            for idle in _drains:
                await idle()
    except TimeoutError:
        logger.warning("stopping: messages still being stored or announced after %.1f s", drain)
    return closed


def reset() -> None:
    """Tests: forget the stopping flag and the sockets counted against the caps."""
    global _stopping
    _stopping = False
    _owners.clear()
    _networks.clear()
    _slots.clear()
