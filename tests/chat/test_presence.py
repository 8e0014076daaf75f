"""Presence semantics, the same for the in-memory backend and the Redis one shared by processes."""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from chat.realtime.presence import AGENT, VISITOR, MemoryPresence, Presence, RedisPresence


def backends() -> list[object]:
    params: list[object] = [pytest.param("memory", id="memory")]
    params.append(
        pytest.param(
            "redis",
            id="redis",
            marks=pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL"),
        )
    )
    return params


@pytest.fixture(params=backends())
async def presence(request, settings):
    settings.GOFLY = {**settings.GOFLY, "PRESENCE_TTL": 0.5}
    backend: MemoryPresence | RedisPresence
    if request.param == "memory":
        backend = MemoryPresence()
    else:
        backend = RedisPresence(settings.REDIS_URL, f"{settings.GOFLY_REDIS_PREFIX}:ptest")
    await backend.clear()
    yield backend
    await backend.clear()


async def test_the_first_connection_brings_a_visitor_online_and_the_last_takes_it_offline(presence):
    tab1, tab2 = Presence(1, VISITOR, 10, "ch-1"), Presence(1, VISITOR, 10, "ch-2")
    assert await presence.join(tab1) is True
    assert await presence.join(tab2) is False
    assert await presence.online(1, VISITOR) == {10}
    assert await presence.leave(tab1) is False
    assert await presence.online(1, VISITOR) == {10}
    assert await presence.leave(tab2) is True
    assert await presence.online(1, VISITOR) == set()


async def test_presence_is_kept_per_enterprise_and_kind(presence):
    await presence.join(Presence(1, VISITOR, 10, "a"))
    await presence.join(Presence(2, VISITOR, 20, "b"))
    await presence.join(Presence(1, AGENT, 5, "c"))
    assert await presence.online(1, VISITOR) == {10}
    assert await presence.online(2, VISITOR) == {20}
    assert await presence.online(1, AGENT) == {5}


async def test_a_connection_whose_process_died_expires_and_is_swept_once(presence):
    dead = Presence(1, VISITOR, 10, "dead-process-channel")
    alive = Presence(1, VISITOR, 11, "live-channel")
    await presence.join(dead)
    await presence.join(alive)
    deadline = time.monotonic() + 0.8
    while time.monotonic() < deadline:
        await presence.beat([alive])  # only the living process keeps beating
        await asyncio.sleep(0.1)
    assert await presence.online(1, VISITOR) == {11}
    gone = await presence.sweep()
    assert gone == [(1, VISITOR, 10)]
    assert await presence.sweep() == []


async def test_leaving_twice_reports_offline_once(presence):
    entry = Presence(3, AGENT, 7, "x")
    await presence.join(entry)
    assert await presence.leave(entry) is True
    assert await presence.leave(entry) is False


async def test_a_heartbeat_for_thousands_of_connections_keeps_them_all_online(presence, settings):
    settings.GOFLY = {**settings.GOFLY, "PRESENCE_TTL": 60}  # a loaded machine took longer than 0.5 s to beat 2,500
    entries = [Presence(9, VISITOR, pk, f"ch-{pk}") for pk in range(2500)]
    await presence.beat(entries)
    assert await presence.online(9, VISITOR) == set(range(2500))


async def test_thousands_of_sockets_joining_and_leaving_at_once_are_all_counted(presence, settings):
    """A closing storm once failed most leaves with redis' "Too many connections" (pool of 200)."""
    settings.GOFLY = {**settings.GOFLY, "PRESENCE_TTL": 60}  # the fixture's 0.5 s is shorter than the storm
    entries = [Presence(1, VISITOR, pk, f"storm-{pk}") for pk in range(1000)]
    assert all(await asyncio.gather(*(presence.join(entry) for entry in entries)))
    assert len(await presence.online(1, VISITOR)) == 1000
    assert all(await asyncio.gather(*(presence.leave(entry) for entry in entries)))
    assert await presence.online(1, VISITOR) == set()
