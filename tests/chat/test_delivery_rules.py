"""The delivery rules of docs/protocol.md section 7, each with a test that fails when the rule is broken:
publish after commit, no second `message.new` for a resend, a sync scoped to the caller's conversation."""

from __future__ import annotations

import asyncio
from typing import Any
from unittest import mock

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.db import transaction

from chat import services
from chat.models import Message
from chat.realtime import broadcast
from tests.conftest import login_visitor

from .test_consumers import jwt_for, login
from .wsutil import agent_socket, connect_ready, recv_type, send, visitor_socket

pytestmark = pytest.mark.django_db(transaction=True)


class _RollbackError(Exception):
    pass


def test_a_message_is_published_only_after_its_transaction_commits(visitor_login_result):
    visitor = visitor_login_result.visitor
    published: list[tuple[str, bool]] = []

    async def record(layer: Any, items: list[tuple[str, dict[str, Any]]]) -> None:
        for group, event in items:
            if event["frame"]["type"] != "message.new":
                continue  # the conversation it opened: announced after the commit too, with it
            message_id = event["frame"]["data"]["id"]
            # Another connection, as a recipient's sync would be: it sees only what was committed.
            visible = await sync_to_async(Message.objects.filter(pk=message_id).exists, thread_sensitive=False)()
            published.append((group, visible))

    with mock.patch.object(broadcast, "group_send_many", record):
        with pytest.raises(_RollbackError), transaction.atomic():
            services.message_create(visitor=visitor, sender="visitor", content="never stored", client_id="r-1")
            raise _RollbackError
        assert published == []  # a rolled-back message was never announced

        with transaction.atomic():
            services.message_create(visitor=visitor, sender="visitor", content="stored", client_id="r-2")
            assert published == []  # not while the transaction may still roll back
        assert len(published) == 2  # the enterprise's agents and the visitor's own sockets
        assert all(visible for _group, visible in published)


async def test_a_resent_client_id_is_acknowledged_again_but_never_announced_again(enterprise, agent):
    result = await login(enterprise, agent)
    visitor_ws = visitor_socket(result.token)
    await connect_ready(visitor_ws)
    agent_ws = agent_socket(jwt=jwt_for(agent))
    await connect_ready(agent_ws)

    await send(visitor_ws, "message.send", {"client_id": "v-1", "content": "once"})
    first = await recv_type(visitor_ws, "message.ack")
    assert (await recv_type(agent_ws, "message.new"))["id"] == first["id"]
    await send(visitor_ws, "message.send", {"client_id": "v-1", "content": "once"})
    assert (await recv_type(visitor_ws, "message.ack"))["duplicate"] is True
    await send(visitor_ws, "message.send", {"client_id": "v-2", "content": "next"})
    await recv_type(visitor_ws, "message.ack")
    # Events arrive in publish order: had the resend been announced, it would come before "next".
    assert (await recv_type(agent_ws, "message.new"))["client_id"] == "v-2"
    await visitor_ws.disconnect()
    await agent_ws.disconnect()


async def test_an_agents_resend_on_a_new_socket_is_acknowledged_as_a_duplicate_and_not_announced(enterprise, agent):
    """A new agent socket has no visitor cached; resending a stored client_id read the stored message's
    visitor lazily on the event loop (SynchronousOnlyOperation), answered server_error, and the console
    retried forever."""
    result = await login(enterprise, agent)
    visitor_id = result.visitor.visitor_id
    visitor_ws = visitor_socket(result.token)
    await connect_ready(visitor_ws)
    first_socket = agent_socket(jwt=jwt_for(agent))
    await connect_ready(first_socket)
    await send(first_socket, "message.send", {"client_id": "a-1", "visitor_id": visitor_id, "content": "hello"})
    stored = await recv_type(first_socket, "message.ack")
    assert (await recv_type(visitor_ws, "message.new"))["id"] == stored["id"]
    await first_socket.disconnect()

    second_socket = agent_socket(jwt=jwt_for(agent))
    await connect_ready(second_socket)
    await send(second_socket, "message.send", {"client_id": "a-1", "visitor_id": visitor_id, "content": "hello"})
    again = await recv_type(second_socket, "message.ack")
    assert (again["id"], again["duplicate"]) == (stored["id"], True)
    await send(second_socket, "message.send", {"client_id": "a-2", "visitor_id": visitor_id, "content": "more"})
    await recv_type(second_socket, "message.ack")
    assert (await recv_type(visitor_ws, "message.new"))["client_id"] == "a-2"
    await visitor_ws.disconnect()
    await second_socket.disconnect()


async def test_a_visitors_sync_returns_its_own_conversation_and_nothing_of_other_visitors_or_tenants(
    enterprise, agent, other_enterprise, other_agent
):
    mine = await login(enterprise, agent)
    neighbour = await login(enterprise, agent)
    foreign = await database_sync_to_async(login_visitor)(other_enterprise, other_agent)

    def write() -> None:
        for result, who in [(mine, "mine"), (neighbour, "neighbour"), (foreign, "foreign")]:
            services.message_create(visitor=result.visitor, sender="visitor", content=who, client_id=f"{who}-v")
            services.message_create(
                visitor=result.visitor,
                sender="agent",
                content=f"to {who}",
                client_id=f"{who}-a",
                agent=other_agent if result is foreign else agent,
            )

    await database_sync_to_async(write)()
    visitor_ws = visitor_socket(mine.token)
    await connect_ready(visitor_ws)
    await send(visitor_ws, "sync", {"after": 0})
    history = await recv_type(visitor_ws, "history")
    assert [m["content"] for m in history["messages"] if m["kind"] != "event"] == ["mine", "to mine"]
    assert {m["visitor_id"] for m in history["messages"]} == {mine.visitor.visitor_id}
    await visitor_ws.disconnect()

    agent_ws = agent_socket(jwt=jwt_for(agent))
    await connect_ready(agent_ws)
    await send(agent_ws, "sync", {"after": 0})
    history = await recv_type(agent_ws, "history")
    assert [m["content"] for m in history["messages"] if m["kind"] != "event"] == [
        "mine",
        "to mine",
        "neighbour",
        "to neighbour",
    ]
    await agent_ws.disconnect()


async def test_publishes_keep_their_order_across_batches(enterprise, agent):
    """Many visitors' messages stored in batches reach the agent in id order (docs/protocol.md 7.5)."""
    agent_ws = agent_socket(jwt=jwt_for(agent))
    await connect_ready(agent_ws)
    results = [await login(enterprise, agent) for _ in range(3)]
    sockets = [visitor_socket(r.token) for r in results]
    for ws in sockets:
        await connect_ready(ws)
    await asyncio.gather(
        *(send(ws, "message.send", {"client_id": f"m-{i}", "content": f"m{i}"}) for i, ws in enumerate(sockets))
    )
    ids: list[int] = []
    while len(ids) < 3:
        ids.append((await recv_type(agent_ws, "message.new"))["id"])
    assert ids == sorted(ids)
    for ws in sockets:
        await ws.disconnect()
    await agent_ws.disconnect()


async def test_a_message_stored_but_never_announced_reaches_the_sockets_that_missed_it_when_its_sender_resends(
    enterprise, agent
):
    """A process killed between storing a message and publishing it: the sender never got the ack and
    resends to another process, which finds the message stored. Nobody else would ever see it."""
    result = await login(enterprise, agent)
    agent_ws = agent_socket(jwt=jwt_for(agent))
    await connect_ready(agent_ws)

    async def dies_before_publishing(layer: Any, items: list[tuple[str, dict[str, Any]]]) -> None:
        return None

    with mock.patch.object(broadcast, "group_send_many", dies_before_publishing):
        await database_sync_to_async(services.message_create)(
            visitor=result.visitor, sender="visitor", content="lost push", client_id="k-1"
        )
    visitor_ws = visitor_socket(result.token)  # the sender, reconnected elsewhere, resends its outbox
    await connect_ready(visitor_ws)
    await send(visitor_ws, "message.send", {"client_id": "k-1", "content": "lost push"})
    ack = await recv_type(visitor_ws, "message.ack")
    assert ack["duplicate"] is True
    missed = await recv_type(agent_ws, "message.new")
    assert (missed["id"], missed["content"]) == (ack["id"], "lost push")

    await send(visitor_ws, "message.send", {"client_id": "k-1", "content": "lost push"})  # and once more
    await recv_type(visitor_ws, "message.ack")
    await send(visitor_ws, "message.send", {"client_id": "k-2", "content": "next"})
    await recv_type(visitor_ws, "message.ack")
    assert (await recv_type(agent_ws, "message.new"))["client_id"] == "k-2"  # k-1 was not offered twice
    await visitor_ws.disconnect()
    await agent_ws.disconnect()


async def test_a_messages_announcement_is_started_before_its_ack_is_sent(enterprise, agent):
    """A process killed after acknowledging must already have written the announcement to Redis; one killed
    before acknowledging leaves the sender to resend, and the resend redelivers (test above)."""
    result = await login(enterprise, agent)
    visitor_ws = visitor_socket(result.token)
    await connect_ready(visitor_ws)
    release = asyncio.Event()
    started: list[str] = []
    real_send = broadcast.group_send_many

    async def slow(layer: Any, items: list[tuple[str, dict[str, Any]]]) -> None:
        # The batch opens with the conversation the message opened, then the message itself.
        started.extend(e["frame"]["data"]["client_id"] for _g, e in items if e["frame"]["type"] == "message.new")
        await release.wait()  # Redis is slow to answer: the PUBLISH is written, its reply not yet read
        await real_send(layer, items)

    with mock.patch.object(broadcast, "group_send_many", slow):
        await send(visitor_ws, "message.send", {"client_id": "s-1", "content": "hello"})
        ack = await recv_type(visitor_ws, "message.ack")
        assert started[:1] == [ack["client_id"]]
        release.set()
        assert (await recv_type(visitor_ws, "message.new"))["id"] == ack["id"]
    await visitor_ws.disconnect()
