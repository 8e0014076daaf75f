"""The chat while Redis or the database is away (core/health.py, docs/protocol.md section 7): messages are
still stored and acknowledged, new sockets are refused with 1013, sockets that lived through a lost
subscription are closed with 1012 so their clients sync, failed publishes are sent again, and an outage
is logged once."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any
from unittest import mock

import pytest
import redis.asyncio
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings as django_settings
from django.db import OperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from rest_framework.test import APIClient

from chat import selectors, services
from chat.realtime import broadcast, healing, lifecycle
from chat.realtime.layers import PubSubChannelLayer, layer_epoch
from chat.realtime.presence import get_presence
from core import ratelimit
from core.errors import ChatError

from .test_consumers import jwt_for, login
from .wsutil import agent_socket, connect_ready, recv_type, send, visitor_socket

pytestmark = pytest.mark.django_db(transaction=True)

_DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1: refused at once, like a stopped Redis


@pytest.fixture
def redis_away(settings: Any) -> Any:
    """Rate limits see a Redis that refuses connections."""
    settings.REDIS_URL = _DEAD_REDIS
    ratelimit._redis.cache_clear()
    yield
    ratelimit._redis.cache_clear()


async def closed_with(comm: Any, timeout: float = 3) -> tuple[list[dict[str, Any]], int]:
    """The frames a socket got before its close, and the close code."""
    frames: list[dict[str, Any]] = []
    while True:
        output = await comm.receive_output(timeout)
        if output["type"] == "websocket.close":
            return frames, output.get("code", 1000)
        if output["type"] == "websocket.send":
            frames.append(json.loads(output["text"]))


def test_messages_are_stored_and_rate_limited_per_process_while_redis_is_away(
    visitor_login_result, redis_away, settings
):
    settings.GOFLY = {**settings.GOFLY, "RATE_VISITOR_MESSAGES": (3, 60)}
    visitor = visitor_login_result.visitor
    for n in range(3):
        message, created = services.message_create(visitor=visitor, sender="visitor", content=f"m{n}", client_id=f"{n}")
        assert created and message.pk
    with pytest.raises(ChatError) as refused:
        services.message_create(visitor=visitor, sender="visitor", content="one too many", client_id="x")
    assert refused.value.code == "rate_limited"


async def test_a_publish_the_layer_refuses_is_sent_again_in_order_once_it_answers():
    sent: list[str] = []
    failures = 3

    async def flaky(layer: Any, items: list[tuple[str, dict[str, Any]]]) -> None:
        nonlocal failures
        if failures:
            failures -= 1
            raise RedisConnectionError("Connection refused")
        sent.extend(group for group, _event in items)

    with mock.patch.object(broadcast, "group_send_many", flaky):
        await broadcast._publish([("g1", {}), ("g2", {})])
        await broadcast._publish([("g3", {})])  # waits behind the first, though the layer may answer now
        for _ in range(100):
            if len(sent) == 3:
                break
            await asyncio.sleep(0.05)
    assert sent == ["g1", "g2", "g3"]


async def test_a_socket_opened_while_redis_is_away_is_refused_with_1013_and_the_outage_logged_once(
    enterprise, agent, caplog
):
    result = await login(enterprise, agent)
    presence = get_presence()
    caplog.set_level(logging.INFO, logger="core.health")
    with mock.patch.object(presence, "join", side_effect=RedisConnectionError("Connection refused")):
        for _ in range(3):
            comm = visitor_socket(result.token)
            connected, _ = await comm.connect(timeout=5)
            assert connected  # accepted only to say why
            frames, code = await closed_with(comm)
            assert [f["data"]["code"] for f in frames] == ["unavailable"]
            assert code == lifecycle.CLOSE_TRY_AGAIN_LATER
        agent_ws = agent_socket(jwt=jwt_for(agent))
        await agent_ws.connect(timeout=5)
        assert (await closed_with(agent_ws))[1] == lifecycle.CLOSE_TRY_AGAIN_LATER
    outage_lines = [r for r in caplog.records if r.name == "core.health" and "unreachable" in r.getMessage()]
    assert len(outage_lines) == 1
    assert not [r for r in caplog.records if r.exc_info]  # no traceback per socket
    comm = visitor_socket(result.token)
    await connect_ready(comm)  # Redis is back: sockets are accepted again
    await comm.disconnect()


async def test_an_agent_socket_whose_token_the_database_cannot_look_up_is_told_to_reconnect_not_to_log_in(
    enterprise, agent, caplog
):
    caplog.set_level(logging.INFO, logger="core.health")
    token = jwt_for(agent)
    with mock.patch("chat.middleware.agent_from_jwt", side_effect=OperationalError(2006, "gone away")):
        for _ in range(3):
            agent_ws = agent_socket(jwt=token)
            connected, _ = await agent_ws.connect(timeout=5)
            assert connected  # accepted only to say why
            frames, code = await closed_with(agent_ws)
            assert [f["data"]["code"] for f in frames] == ["unavailable"]  # not "unauthenticated": no logout
            assert code == lifecycle.CLOSE_TRY_AGAIN_LATER
    outage_lines = [r for r in caplog.records if r.name == "core.health" and "unreachable" in r.getMessage()]
    assert len(outage_lines) == 1
    assert not [r for r in caplog.records if r.exc_info]  # no traceback per socket
    with mock.patch("chat.middleware.agent_from_jwt", side_effect=ValueError("a bug")):
        with pytest.raises(ValueError):  # a bug is not an outage: it surfaces
            await agent_socket(jwt=token).connect(timeout=5)


async def test_a_sync_the_database_cannot_answer_closes_the_socket_so_the_client_syncs_again(enterprise, agent):
    result = await login(enterprise, agent)
    comm = visitor_socket(result.token)
    await connect_ready(comm)
    with mock.patch.object(selectors, "messages_after_for_visitor", side_effect=OperationalError(2006, "gone away")):
        await send(comm, "sync", {"after": 0})
        frames, code = await closed_with(comm)
    assert [f["data"]["code"] for f in frames if f["type"] == "error"] == ["unavailable"]
    assert code == lifecycle.CLOSE_TRY_AGAIN_LATER


async def test_a_message_the_database_cannot_store_is_answered_server_error_to_resend_later(enterprise, agent):
    result = await login(enterprise, agent)
    comm = visitor_socket(result.token)
    await connect_ready(comm)
    with mock.patch.object(services, "messages_create", side_effect=OperationalError(2006, "gone away")):
        await send(comm, "message.send", {"client_id": "c-1", "content": "hello"})
        error = await recv_type(comm, "error")
    assert (error["code"], error["ref"]) == ("server_error", "c-1")
    await send(comm, "message.send", {"client_id": "c-1", "content": "hello"})  # the client's resend
    assert (await recv_type(comm, "message.ack"))["duplicate"] is False
    await comm.disconnect()


async def test_stopping_closes_every_socket_with_1012_and_refuses_new_ones(enterprise, agent):
    result = await login(enterprise, agent)
    visitor_ws = visitor_socket(result.token)
    await connect_ready(visitor_ws)
    agent_ws = agent_socket(jwt=jwt_for(agent))
    await connect_ready(agent_ws)
    assert await lifecycle.close_all(lifecycle.CLOSE_SERVICE_RESTART) >= 2  # and sockets of earlier tests
    assert (await closed_with(visitor_ws))[1] == lifecycle.CLOSE_SERVICE_RESTART
    assert (await closed_with(agent_ws))[1] == lifecycle.CLOSE_SERVICE_RESTART
    late = visitor_socket(result.token)
    await late.connect(timeout=5)
    frames, code = await closed_with(late)
    assert code == lifecycle.CLOSE_SERVICE_RESTART and frames[0]["data"]["code"] == "unavailable"


async def _kill_subscription_connection(layer: PubSubChannelLayer) -> None:
    """What a Redis restart does to this process: its subscription connection is dropped by the server."""
    (shard,) = layer._get_layer()._shards
    host, port = shard._pubsub.connection._writer.get_extra_info("sockname")[:2]
    admin = redis.asyncio.Redis.from_url(django_settings.REDIS_URL)
    try:
        assert await admin.client_kill_filter(_type="pubsub", addr=f"{host}:{port}") == 1
    finally:
        await admin.aclose()


async def _lose_a_push_then_the_subscription(enterprise: Any, agent: Any) -> tuple[Any, Any, Any, int]:
    """A visitor and an agent socket; a message whose push is lost; then the subscription drops and comes back."""
    layer = get_channel_layer()
    assert isinstance(layer, PubSubChannelLayer)
    result = await login(enterprise, agent)
    visitor_ws = visitor_socket(result.token)
    await connect_ready(visitor_ws)
    agent_ws = agent_socket(jwt=jwt_for(agent))
    await connect_ready(agent_ws)
    await send(visitor_ws, "message.send", {"client_id": "before", "content": "seen by both"})
    await recv_type(agent_ws, "message.new")
    await recv_type(visitor_ws, "message.new")

    async def lost(layer: Any, items: list[tuple[str, dict[str, Any]]]) -> None:
        return None  # published while this process's subscription was away: Redis had nobody to give it to

    with mock.patch.object(broadcast, "group_send_many", lost):
        message, _created = await database_sync_to_async(services.message_create)(
            visitor=result.visitor, sender="agent", content="pushed into the gap", client_id="gap", agent=agent
        )
    await _kill_subscription_connection(layer)
    return visitor_ws, agent_ws, result, message.pk


@pytest.mark.skipif(not django_settings.REDIS_URL, reason="the Redis deployment's layer")
async def test_sockets_that_lived_through_a_lost_subscription_get_what_they_missed_once(enterprise, agent):
    epoch = layer_epoch()
    visitor_ws, agent_ws, _result, missed = await _lose_a_push_then_the_subscription(enterprise, agent)
    for ws in (visitor_ws, agent_ws):
        got = await recv_type(ws, "message.new", timeout=10)
        assert (got["id"], got["content"]) == (missed, "pushed into the gap")
    assert layer_epoch() == epoch + 1
    # Open all along, and nothing twice: the message seen before the gap is not sent again.
    await send(visitor_ws, "message.send", {"client_id": "after", "content": "pushes work again"})
    assert (await recv_type(agent_ws, "message.new"))["client_id"] == "after"
    for ws in (visitor_ws, agent_ws):
        await ws.disconnect()


@pytest.mark.skipif(not django_settings.REDIS_URL, reason="the Redis deployment's layer")
async def test_sockets_whose_gap_is_too_long_to_read_are_closed_with_1012_and_their_sync_fills_it(
    enterprise, agent, monkeypatch
):
    monkeypatch.setattr(healing, "HEAL_MAX", 1)  # the gap holds 2 messages: the one before and the lost one
    visitor_ws, agent_ws, result, missed = await _lose_a_push_then_the_subscription(enterprise, agent)
    assert (await closed_with(visitor_ws, timeout=10))[1] == lifecycle.CLOSE_SERVICE_RESTART
    assert (await closed_with(agent_ws, timeout=10))[1] == lifecycle.CLOSE_SERVICE_RESTART
    again = visitor_socket(result.token)  # what section 7 tells the client to do: reconnect and sync
    await connect_ready(again)
    await send(again, "sync", {"after": 0})
    assert missed in [m["id"] for m in (await recv_type(again, "history"))["messages"]]
    await again.disconnect()


def test_a_visitor_logs_in_while_redis_is_away_and_a_database_outage_is_a_503(enterprise, agent, redis_away):
    api = APIClient()
    with mock.patch.object(get_presence(), "online", side_effect=RedisConnectionError("Connection refused")):
        response = api.post("/api/v1/visitor/login", {"ent_id": enterprise.pk}, format="json")
    assert response.status_code == 200 and response.json()["agents_online"] == 0
    token = response.json()["token"]
    with mock.patch.object(services, "visitor_login", side_effect=OperationalError(2003, "Can't connect")):
        response = api.post("/api/v1/visitor/login", {"ent_id": enterprise.pk}, format="json")
    assert (response.status_code, response.json()["error"]["code"]) == (503, "unavailable")
    api.credentials(HTTP_AUTHORIZATION=f"Visitor {token}")
    with mock.patch.object(selectors, "messages_page_for_visitor", side_effect=OperationalError(2006, "gone away")):
        response = api.get("/api/v1/visitor/messages")
    assert (response.status_code, response.json()["error"]["code"]) == (503, "unavailable")
