"""Who is online: heartbeat timestamps with expiry, in Redis (shared by all processes) or in memory (embedded).

A connection is online while its last heartbeat is younger than PRESENCE_TTL. A visitor or agent is
online while any of their connections is, on any process. A process that dies stops beating, and the
sweeper (run by whichever process takes the sweep lock) reports its connections' owners offline.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from django.conf import settings

from core import health

VISITOR = "v"
AGENT = "a"


@dataclass(frozen=True)
class Presence:
    enterprise_id: int
    kind: str  # VISITOR or AGENT
    pk: int
    channel: str


class PresenceBackend(Protocol):
    async def join(self, entry: Presence) -> bool: ...
    async def leave(self, entry: Presence) -> bool: ...
    async def beat(self, entries: Iterable[Presence]) -> None: ...
    async def online(self, enterprise_id: int, kind: str) -> set[int]: ...
    def online_blocking(self, enterprise_id: int, kind: str) -> set[int]: ...
    async def sweep(self) -> list[tuple[int, str, int]]: ...
    async def clear(self) -> None: ...


def _ttl() -> float:
    return float(settings.GOFLY["PRESENCE_TTL"])


class MemoryPresence:
    """The embedded default: one process, so its own dicts are the truth."""

    def __init__(self) -> None:
        self._conns: dict[tuple[str, int], dict[str, float]] = {}
        self._owners: dict[tuple[int, str], dict[int, float]] = {}

    async def join(self, entry: Presence) -> bool:
        now = time.time()
        conns = self._live_conns(entry.kind, entry.pk, now)
        was_online = bool(conns)
        conns[entry.channel] = now
        self._owners.setdefault((entry.enterprise_id, entry.kind), {})[entry.pk] = now
        return not was_online

    async def leave(self, entry: Presence) -> bool:
        conns = self._live_conns(entry.kind, entry.pk, time.time())
        conns.pop(entry.channel, None)
        if conns:
            return False
        self._conns.pop((entry.kind, entry.pk), None)
        return self._owners.get((entry.enterprise_id, entry.kind), {}).pop(entry.pk, None) is not None

    async def beat(self, entries: Iterable[Presence]) -> None:
        now = time.time()
        for entry in entries:
            self._conns.setdefault((entry.kind, entry.pk), {})[entry.channel] = now
            self._owners.setdefault((entry.enterprise_id, entry.kind), {})[entry.pk] = now

    async def online(self, enterprise_id: int, kind: str) -> set[int]:
        return self.online_blocking(enterprise_id, kind)

    def online_blocking(self, enterprise_id: int, kind: str) -> set[int]:
        cutoff = time.time() - _ttl()
        owners = dict(self._owners.get((enterprise_id, kind), {}))  # one C-level copy: safe from a thread
        return {pk for pk, seen in owners.items() if seen > cutoff}

    async def sweep(self) -> list[tuple[int, str, int]]:
        now = time.time()
        cutoff = now - _ttl()
        gone = []
        for (enterprise_id, kind), owners in self._owners.items():
            for pk, seen in list(owners.items()):
                if seen <= cutoff and not self._live_conns(kind, pk, now):
                    del owners[pk]
                    gone.append((enterprise_id, kind, pk))
        return gone

    async def clear(self) -> None:
        self._conns.clear()
        self._owners.clear()

    def _live_conns(self, kind: str, pk: int, now: float) -> dict[str, float]:
        conns = self._conns.setdefault((kind, pk), {})
        cutoff = now - _ttl()
        for channel in [c for c, seen in conns.items() if seen <= cutoff]:
            del conns[channel]
        return conns


# KEYS: connections of one owner, the enterprise's owners of that kind, the index of owner sets.
_JOIN = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[4])
local before = redis.call('ZCARD', KEYS[1])
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
redis.call('SADD', KEYS[3], KEYS[2])
return before
"""
_LEAVE = """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
local left = redis.call('ZCARD', KEYS[1])
if left == 0 then
  return redis.call('ZREM', KEYS[2], ARGV[2])
end
return -1
"""

# ARGV: now, expiry in ms, then per connection: connection key, owner key, channel, pk.
_BEAT = """
for i = 3, #ARGV, 4 do
  redis.call('ZADD', ARGV[i], ARGV[1], ARGV[i + 2])
  redis.call('PEXPIRE', ARGV[i], ARGV[2])
  redis.call('ZADD', ARGV[i + 1], ARGV[1], ARGV[i + 3])
end
return 0
"""
_BEAT_BATCH = 1000
_POOL_SIZE = 64


class RedisPresence:
    """Presence shared by every process through Redis sorted sets scored by heartbeat time."""

    def __init__(self, url: str, prefix: str) -> None:
        self._url = url
        self._prefix = f"{prefix}:pres"
        # redis.asyncio clients belong to one event loop; tests and async_to_sync may run several.
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, object] = weakref.WeakKeyDictionary()
        self._blocking: Any = None  # a thread-safe client for services running in a thread

    def _redis(self):  # type: ignore[no-untyped-def]
        import redis.asyncio as aioredis

        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            # A storm of closing sockets calls leave() thousands of times at once: wait for a connection
            # rather than fail with "Too many connections" (and leave the visitor online until swept).
            pool = aioredis.BlockingConnectionPool.from_url(
                self._url, socket_timeout=30, max_connections=_POOL_SIZE, timeout=30
            )
            client = aioredis.Redis(connection_pool=pool)
            self._clients[loop] = client
        return client

    def _conn_key(self, kind: str, pk: int) -> str:
        return f"{self._prefix}:c:{kind}:{pk}"

    def _owner_key(self, enterprise_id: int, kind: str) -> str:
        return f"{self._prefix}:o:{enterprise_id}:{kind}"

    @property
    def _index_key(self) -> str:
        return f"{self._prefix}:index"

    async def join(self, entry: Presence) -> bool:
        now = time.time()
        ttl = _ttl()
        before = await self._redis().eval(
            _JOIN,
            3,
            self._conn_key(entry.kind, entry.pk),
            self._owner_key(entry.enterprise_id, entry.kind),
            self._index_key,
            entry.channel,
            entry.pk,
            now,
            now - ttl,
            int(ttl * 2000),
        )
        return int(before) == 0

    async def leave(self, entry: Presence) -> bool:
        removed = await self._redis().eval(
            _LEAVE,
            2,
            self._conn_key(entry.kind, entry.pk),
            self._owner_key(entry.enterprise_id, entry.kind),
            entry.channel,
            entry.pk,
            time.time() - _ttl(),
        )
        return int(removed) == 1

    async def beat(self, entries: Iterable[Presence]) -> None:
        """One script call per 1,000 connections: a pipeline of 3 commands per connection held the event
        loop for ~100 ms per 1,000 connections, which showed as a latency spike every HEARTBEAT."""
        now = time.time()
        expire_ms = int(_ttl() * 2000)
        redis = self._redis()
        args: list[str | float | int] = []
        for entry in entries:
            args += [
                self._conn_key(entry.kind, entry.pk),
                self._owner_key(entry.enterprise_id, entry.kind),
                entry.channel,
                entry.pk,
            ]
            if len(args) >= 4 * _BEAT_BATCH:
                await redis.eval(_BEAT, 0, now, expire_ms, *args)
                args = []
        if args:
            await redis.eval(_BEAT, 0, now, expire_ms, *args)

    async def online(self, enterprise_id: int, kind: str) -> set[int]:
        members = await self._redis().zrangebyscore(self._owner_key(enterprise_id, kind), time.time() - _ttl(), "+inf")
        return {int(member) for member in members}

    def online_blocking(self, enterprise_id: int, kind: str) -> set[int]:
        """online() for synchronous code (routing, in the database thread): a direct round trip, where a hop
        to the event loop and back cost more than the query."""
        if self._blocking is None:
            import redis

            # Short timeouts: the database thread waits on it, and routing treats "unknown" as "nobody".
            self._blocking = redis.Redis.from_url(self._url, socket_timeout=1, socket_connect_timeout=1)
        members = self._blocking.zrangebyscore(self._owner_key(enterprise_id, kind), time.time() - _ttl(), "+inf")
        return {int(member) for member in members}

    async def sweep(self) -> list[tuple[int, str, int]]:
        redis = self._redis()
        # One sweeper per interval across all processes, so each expiry is announced once.
        if not await redis.set(f"{self._prefix}:sweep-lock", "1", nx=True, px=int(_ttl() * 300)):
            return []
        cutoff = time.time() - _ttl()
        gone = []
        for raw_key in await redis.smembers(self._index_key):
            owner_key = raw_key.decode()
            enterprise_id, kind = owner_key.rsplit(":", 2)[-2:]
            for member in await redis.zrangebyscore(owner_key, "-inf", cutoff):
                pk = int(member)
                conn_key = self._conn_key(kind, pk)
                await redis.zremrangebyscore(conn_key, "-inf", cutoff)
                if await redis.zcard(conn_key) == 0 and await redis.zrem(owner_key, member):
                    gone.append((int(enterprise_id), kind, pk))
        return gone

    async def clear(self) -> None:
        redis = self._redis()
        async for key in redis.scan_iter(match=f"{self._prefix}:*", count=1000):
            await redis.delete(key)


_backend: PresenceBackend | None = None


def get_presence() -> PresenceBackend:
    global _backend
    if _backend is None:
        if settings.REDIS_URL:
            _backend = RedisPresence(settings.REDIS_URL, settings.GOFLY_REDIS_PREFIX)
        else:
            _backend = MemoryPresence()
    return _backend


async def online_or_nobody(enterprise_id: int, kind: str) -> set[int]:
    """Who is online; nobody, as far as the caller goes, while Redis is away (presence lives there)."""
    try:
        return await get_presence().online(enterprise_id, kind)
    except health.INFRASTRUCTURE_ERRORS as exc:
        health.failed(health.REDIS, exc)
        return set()


def online_now(enterprise_id: int, kind: str) -> set[int]:
    """online_or_nobody for synchronous code: services and views, in a consumer's database thread too."""
    try:
        return get_presence().online_blocking(enterprise_id, kind)
    except health.INFRASTRUCTURE_ERRORS as exc:
        health.failed(health.REDIS, exc)
        return set()
