"""The visitor and agent websockets, driven through the full ASGI application."""

from __future__ import annotations

from typing import Any

import pytest
from autobahn.exception import Disconnected
from channels.db import database_sync_to_async

from accounts.models import User
from accounts.tokens import AgentAccessToken
from chat.consumers import VisitorConsumer
from chat.frames import CLOSE_FORBIDDEN, CLOSE_UNAUTHENTICATED
from chat.models import Message
from enterprises.models import Enterprise
from tests.conftest import address_block, login_visitor

from .wsutil import agent_socket, connect_ready, recv, recv_type, send, visitor_socket

pytestmark = pytest.mark.django_db(transaction=True)


def jwt_for(user: User) -> str:
    return str(AgentAccessToken.for_user(user))


async def login(enterprise: Enterprise, agent: User | None = None, **kw: Any) -> Any:
    return await database_sync_to_async(login_visitor)(enterprise, agent, **kw)


async def test_a_visitor_message_reaches_the_agent_and_is_acknowledged_once_stored(enterprise, agent):
    agent_ws = agent_socket(jwt=jwt_for(agent))
    ready = await connect_ready(agent_ws)
    assert ready["agent"]["username"] == "kefu2"
    assert ready["visitors"] == []

    result = await login(enterprise, agent)
    visitor_ws = visitor_socket(result.token)
    vready = await connect_ready(visitor_ws)
    assert vready["agents_online"] == 1
    assert vready["welcome"] == "Welcome to Acme!"
    online = await recv_type(agent_ws, "visitor.online")
    assert online["visitor_id"] == result.visitor.visitor_id
    assert online["online"] is True

    await send(visitor_ws, "message.send", {"client_id": "c-1", "content": "  hello there  "})
    ack = await recv_type(visitor_ws, "message.ack")
    assert ack["client_id"] == "c-1" and ack["duplicate"] is False
    stored = await database_sync_to_async(Message.objects.get)(pk=ack["id"])
    assert stored.content == "hello there" and stored.sender == "visitor"

    new = await recv_type(agent_ws, "message.new")
    assert new["id"] == ack["id"]
    assert new["content"] == "hello there"
    assert new["visitor_id"] == result.visitor.visitor_id
    assert new["sender"] == "visitor"

    await visitor_ws.disconnect()
    offline = await recv_type(agent_ws, "visitor.offline")
    assert offline == {"visitor_id": result.visitor.visitor_id}
    await agent_ws.disconnect()


async def test_an_agent_reply_reaches_the_visitor_and_every_agent_of_the_enterprise(enterprise, agent, second_agent):
    result = await login(enterprise, agent)
    visitor_ws = visitor_socket(result.token)
    await connect_ready(visitor_ws)
    alice, bob = agent_socket(jwt=jwt_for(agent)), agent_socket(jwt=jwt_for(second_agent))
    alice_ready = await connect_ready(alice)
    assert [v["visitor_id"] for v in alice_ready["visitors"]] == [result.visitor.visitor_id]
    await connect_ready(bob)

    await send(alice, "message.send", {"client_id": "a-1", "visitor_id": result.visitor.visitor_id, "content": "Hi!"})
    ack = await recv_type(alice, "message.ack")
    to_visitor = await recv_type(visitor_ws, "message.new")
    assert to_visitor["id"] == ack["id"]
    assert to_visitor["sender"] == "agent"
    assert to_visitor["agent"]["name"] == "Alice"
    to_bob = await recv_type(bob, "message.new")
    assert to_bob["id"] == ack["id"]
    for ws in (visitor_ws, alice, bob):
        await ws.disconnect()


async def test_a_resent_message_is_stored_once_and_acknowledged_with_the_same_id(enterprise, agent):
    result = await login(enterprise, agent)
    visitor_ws = visitor_socket(result.token)
    await connect_ready(visitor_ws)
    await send(visitor_ws, "message.send", {"client_id": "same", "content": "once"})
    first = await recv_type(visitor_ws, "message.ack")
    await send(visitor_ws, "message.send", {"client_id": "same", "content": "once"})
    second = await recv_type(visitor_ws, "message.ack")
    assert second["id"] == first["id"]
    assert second["duplicate"] is True
    assert await database_sync_to_async(Message.objects.filter(client_id="same").count)() == 1
    await visitor_ws.disconnect()


async def test_a_reconnecting_visitor_receives_what_it_missed_in_order(enterprise, agent):
    result = await login(enterprise, agent)
    visitor_ws = visitor_socket(result.token)
    ready = await connect_ready(visitor_ws)
    assert ready["last_message_id"] == 0
    await send(visitor_ws, "message.send", {"client_id": "v-1", "content": "before"})
    held = (await recv_type(visitor_ws, "message.ack"))["id"]
    await visitor_ws.disconnect()

    agent_ws = agent_socket(jwt=jwt_for(agent))
    await connect_ready(agent_ws)
    for i in range(3):
        await send(
            agent_ws,
            "message.send",
            {"client_id": f"a-{i}", "visitor_id": result.visitor.visitor_id, "content": f"reply {i}"},
        )
        await recv_type(agent_ws, "message.ack")

    visitor_ws = visitor_socket(result.token)
    ready = await connect_ready(visitor_ws)
    assert ready["last_message_id"] > held
    await send(visitor_ws, "sync", {"after": held})
    history = await recv_type(visitor_ws, "history")
    assert [m["content"] for m in history["messages"] if m["kind"] != "event"] == ["reply 0", "reply 1", "reply 2"]
    assert history["more"] is False
    ids = [m["id"] for m in history["messages"]]
    assert ids == sorted(ids)
    await visitor_ws.disconnect()
    await agent_ws.disconnect()


async def test_sync_pages_through_a_long_gap_in_batches(enterprise, agent, settings):
    settings.GOFLY = {**settings.GOFLY, "SYNC_BATCH": 2}
    result = await login(enterprise, agent)
    agent_ws = agent_socket(jwt=jwt_for(agent))
    await connect_ready(agent_ws)
    for i in range(5):
        await send(
            agent_ws,
            "message.send",
            {"client_id": f"a-{i}", "visitor_id": result.visitor.visitor_id, "content": str(i)},
        )
        await recv_type(agent_ws, "message.ack")
    seen: list[str] = []
    after, more = 0, True
    while more:
        await send(agent_ws, "sync", {"after": after})
        batch = await recv_type(agent_ws, "history")
        seen += [m["content"] for m in batch["messages"]]
        more = batch["more"]
        after = batch["messages"][-1]["id"] if batch["messages"] else after
    assert seen == ["0", "1", "2", "3", "4"]
    await agent_ws.disconnect()


async def test_a_visitor_with_a_forged_or_missing_token_is_closed_with_4401(enterprise, agent):
    result = await login(enterprise, agent)
    for token in ["", "garbage", result.token[:-2] + "xx"]:
        ws = visitor_socket(token)
        connected, _ = await ws.connect()
        assert connected
        error = await recv(ws)
        assert error["type"] == "error" and error["data"]["code"] == "unauthenticated"
        closed = await ws.receive_output()
        assert closed == {"type": "websocket.close", "code": CLOSE_UNAUTHENTICATED}


async def test_an_expired_visitor_token_is_refused(enterprise, agent, settings):
    result = await login(enterprise, agent)
    settings.GOFLY = {**settings.GOFLY, "VISITOR_TOKEN_MAX_AGE": -1}
    ws = visitor_socket(result.token)
    await ws.connect()
    assert (await recv(ws))["data"]["code"] == "unauthenticated"


async def test_an_agent_without_credentials_or_with_a_bad_jwt_is_refused(enterprise, agent):
    for ws in (agent_socket(), agent_socket(jwt="not.a.jwt")):
        await ws.connect()
        assert (await recv(ws))["data"]["code"] == "unauthenticated"
        assert (await ws.receive_output())["code"] == CLOSE_UNAUTHENTICATED


async def test_a_blacklisted_ip_is_refused_with_4403(enterprise, agent):
    result = await login(enterprise, agent)
    await database_sync_to_async(address_block)(enterprise=enterprise, ip="198.51.100.9")
    ws = visitor_socket(result.token, ip="198.51.100.9")
    await ws.connect()
    assert (await recv(ws))["data"]["code"] == "blacklisted"
    assert (await ws.receive_output())["code"] == CLOSE_FORBIDDEN


async def test_a_visitor_socket_from_a_foreign_origin_is_refused_when_origins_are_set(enterprise, agent):
    enterprise.allowed_origins = "https://shop.example.com"
    await database_sync_to_async(enterprise.save)()
    result = await login(enterprise, agent)
    bad = visitor_socket(result.token, origin="https://evil.example.net")
    await bad.connect()
    assert (await recv(bad))["data"]["code"] == "forbidden_origin"
    good = visitor_socket(result.token, origin="https://shop.example.com")
    await connect_ready(good)
    await good.disconnect()


async def test_a_session_agent_socket_from_another_site_is_refused(enterprise, agent, client):
    await database_sync_to_async(client.force_login)(agent)
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    evil = agent_socket(cookie=cookie, origin="https://evil.example.net")
    await evil.connect()
    assert (await recv(evil))["data"]["code"] == "forbidden_origin"
    own = agent_socket(cookie=cookie, origin="http://testserver")
    ready = await connect_ready(own)
    assert ready["agent"]["id"] == agent.pk
    await own.disconnect()


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("not json", "bad_frame"),
        ("[1,2]", "bad_frame"),
        ('{"data": {}}', "bad_frame"),
        ('{"type": "message.send", "data": "text"}', "bad_frame"),
        ('{"type": "explode"}', "unknown_type"),
        ('{"type": "conversation.take", "data": {}}', "unknown_type"),  # an agent's action
        ('{"type": "read", "data": {}}', "bad_frame"),  # no up_to
        ('{"type": "sync", "data": {"after": -1}}', "bad_frame"),
        ('{"type": "sync", "data": {"after": "1"}}', "bad_frame"),
        ('{"type": "message.send", "data": {"client_id": "x", "content": "   "}}', "empty"),
        ('{"type": "message.send", "data": {"client_id": "x", "content": 5}}', "bad_content"),
        ('{"type": "message.send", "data": {"content": "hi"}}', "bad_client_id"),
        ('{"type": "message.send", "data": {"client_id": "' + "x" * 65 + '", "content": "hi"}}', "bad_client_id"),
        ('{"type": "typing", "data": {"content": 3}}', "bad_frame"),
    ],
)
async def test_bad_visitor_frames_get_a_clear_error_and_the_socket_stays_usable(enterprise, agent, raw, code):
    result = await login(enterprise, agent)
    ws = visitor_socket(result.token)
    await connect_ready(ws)
    await ws.send_to(text_data=raw)
    error = await recv_type(ws, "error")
    assert error["code"] == code
    await send(ws, "ping")
    assert (await recv_type(ws, "pong"))["time"] > 0
    await ws.disconnect()


async def test_oversized_frames_and_messages_are_refused_with_their_ref(enterprise, agent, settings):
    result = await login(enterprise, agent)
    ws = visitor_socket(result.token)
    await connect_ready(ws)
    await send(ws, "message.send", {"client_id": "big", "content": "x" * 6000})
    error = await recv_type(ws, "error")
    assert error == {"code": "too_large", "message": error["message"], "ref": "big"}
    await ws.send_to(text_data='{"type":"ping","data":{"pad":"' + "y" * 70000 + '"}}')
    assert (await recv_type(ws, "error"))["code"] == "too_large"
    await ws.send_to(bytes_data=b"\x00\x01")
    assert (await recv_type(ws, "error"))["code"] == "bad_frame"
    assert await database_sync_to_async(Message.objects.count)() == 0
    await ws.disconnect()


async def test_an_agent_cannot_reach_another_enterprises_visitor(enterprise, agent, other_enterprise, other_agent):
    result = await login(enterprise, agent)
    visitor_ws = visitor_socket(result.token)
    await connect_ready(visitor_ws)
    intruder = agent_socket(jwt=jwt_for(other_agent))
    ready = await connect_ready(intruder)
    assert ready["visitors"] == []
    for kind, data in [
        ("message.send", {"client_id": "x", "visitor_id": result.visitor.visitor_id, "content": "hi"}),
        ("typing", {"visitor_id": result.visitor.visitor_id}),
        ("read", {"visitor_id": result.visitor.visitor_id, "up_to": 1}),
    ]:
        await send(intruder, kind, data)
        assert (await recv_type(intruder, "error"))["code"] == "not_found"
    await send(visitor_ws, "message.send", {"client_id": "v", "content": "private"})
    await recv_type(visitor_ws, "message.ack")
    # Nothing of the other enterprise arrives: at most the news of its own arrival, told to its colleagues.
    while not await intruder.receive_nothing(timeout=0.5):
        frame = await recv(intruder)
        assert frame["type"] == "agent.status" and frame["data"]["id"] == other_agent.pk
    await send(intruder, "sync", {"after": 0})
    assert (await recv_type(intruder, "history"))["messages"] == []
    assert await database_sync_to_async(Message.objects.count)() == 1
    await intruder.disconnect()
    await visitor_ws.disconnect()


async def test_typing_is_relayed_both_ways(enterprise, agent):
    result = await login(enterprise, agent)
    visitor_ws = visitor_socket(result.token)
    await connect_ready(visitor_ws)
    agent_ws = agent_socket(jwt=jwt_for(agent))
    await connect_ready(agent_ws)
    await send(visitor_ws, "typing", {"content": "I would like"})
    typing = await recv_type(agent_ws, "typing")
    assert typing == {"visitor_id": result.visitor.visitor_id, "sender": "visitor", "content": "I would like"}
    await send(agent_ws, "typing", {"visitor_id": result.visitor.visitor_id})
    assert (await recv_type(visitor_ws, "typing"))["name"] == "Alice"
    await visitor_ws.disconnect()
    await agent_ws.disconnect()


async def test_reading_clears_unread_for_every_agent(enterprise, agent, second_agent):
    result = await login(enterprise, agent)
    visitor_ws = visitor_socket(result.token)
    await connect_ready(visitor_ws)
    for i in range(2):
        await send(visitor_ws, "message.send", {"client_id": f"v{i}", "content": f"q{i}"})
        last = (await recv_type(visitor_ws, "message.ack"))["id"]
    alice, bob = agent_socket(jwt=jwt_for(agent)), agent_socket(jwt=jwt_for(second_agent))
    ready = await connect_ready(alice)
    assert ready["visitors"][0]["unread"] == 2
    assert ready["visitors"][0]["last_message"]["content"] == "q1"
    await connect_ready(bob)
    await send(alice, "read", {"visitor_id": result.visitor.visitor_id, "up_to": last})
    read = await recv_type(bob, "read")
    assert read == {"visitor_id": result.visitor.visitor_id, "up_to": last, "by": agent.pk}
    unread = await database_sync_to_async(Message.objects.filter(sender="visitor", read_at__isnull=True).count)()
    assert unread == 0
    for ws in (visitor_ws, alice, bob):
        await ws.disconnect()


async def test_visitors_learn_when_agents_come_and_go(enterprise, agent):
    result = await login(enterprise, agent)
    visitor_ws = visitor_socket(result.token)
    ready = await connect_ready(visitor_ws)
    assert ready["agents_online"] == 0
    agent_ws = agent_socket(jwt=jwt_for(agent))
    await connect_ready(agent_ws)
    assert (await recv_type(visitor_ws, "agents")) == {"online": 1}
    await agent_ws.disconnect()
    assert (await recv_type(visitor_ws, "agents")) == {"online": 0}
    await visitor_ws.disconnect()


async def test_a_second_tab_keeps_the_visitor_online_until_both_close(enterprise, agent):
    result = await login(enterprise, agent)
    agent_ws = agent_socket(jwt=jwt_for(agent))
    await connect_ready(agent_ws)
    tab1, tab2 = visitor_socket(result.token), visitor_socket(result.token)
    await connect_ready(tab1)
    await recv_type(agent_ws, "visitor.online")
    await connect_ready(tab2)
    await send(tab1, "message.send", {"client_id": "t", "content": "from tab 1"})
    assert (await recv_type(tab2, "message.new"))["content"] == "from tab 1"
    assert (await recv_type(agent_ws, "message.new"))["content"] == "from tab 1"
    await tab1.disconnect()
    assert await agent_ws.receive_nothing(timeout=0.5)
    await tab2.disconnect()
    assert (await recv_type(agent_ws, "visitor.offline"))["visitor_id"] == result.visitor.visitor_id
    await agent_ws.disconnect()


async def test_an_agents_burst_to_several_visitors_arrives_complete_and_in_order_for_each(enterprise, agent):
    logins = [await login(enterprise, agent) for _ in range(2)]
    sockets = [visitor_socket(result.token) for result in logins]
    for ws in sockets:
        await connect_ready(ws)
    agent_ws = agent_socket(jwt=jwt_for(agent))
    await connect_ready(agent_ws)
    for i in range(10):
        for n, result in enumerate(logins):
            data = {"client_id": f"{n}-{i}", "visitor_id": result.visitor.visitor_id, "content": f"{n}:{i}"}
            await send(agent_ws, "message.send", data)
    acks = [await recv_type(agent_ws, "message.ack") for _ in range(20)]
    assert sorted(a["client_id"] for a in acks) == sorted(f"{n}-{i}" for n in range(2) for i in range(10))
    for n, ws in enumerate(sockets):
        got = [(await recv_type(ws, "message.new"))["content"] for _ in range(10)]
        assert got == [f"{n}:{i}" for i in range(10)]
        await ws.disconnect()
    await agent_ws.disconnect()


async def test_an_agents_refused_send_is_answered_and_the_next_one_to_that_visitor_still_goes(enterprise, agent):
    result = await login(enterprise, agent)
    agent_ws = agent_socket(jwt=jwt_for(agent))
    await connect_ready(agent_ws)
    vid = result.visitor.visitor_id
    await send(agent_ws, "message.send", {"client_id": "bad", "visitor_id": vid, "content": " "})
    await send(agent_ws, "message.send", {"client_id": "good", "visitor_id": vid, "content": "fine"})
    error = await recv_type(agent_ws, "error")
    assert (error["code"], error["ref"]) == ("empty", "bad")
    assert (await recv_type(agent_ws, "message.ack"))["client_id"] == "good"
    await agent_ws.disconnect()


@pytest.mark.parametrize("closed", [OSError("uvicorn: ClientDisconnected"), Disconnected("daphne: closed protocol")])
async def test_a_frame_for_a_socket_that_just_closed_is_dropped_quietly(closed):
    """An event dispatched just before the disconnect once ended the consumer with "Exception inside
    application" (seen 2-3 times per 5,000 closing sockets in bench d)."""
    consumer = VisitorConsumer()

    async def closed_socket(message: dict[str, Any]) -> None:
        raise closed

    consumer.base_send = closed_socket
    await consumer.forward_frame({"type": "forward.frame", "frame": {"type": "typing", "data": {}}})
