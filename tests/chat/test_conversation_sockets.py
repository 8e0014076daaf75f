"""Conversations through the full ASGI application: the actions of the agent socket, what each socket
hears, and how the conversation a socket caches follows the events that change it."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from channels.db import database_sync_to_async

from accounts.models import User
from chat import selectors, services
from chat.models import Conversation, Message
from chat.realtime import broadcast, layers
from chat.services import message_create

from .test_consumers import jwt_for, login
from .wsutil import agent_socket, connect_ready, recv, recv_type, send, visitor_socket

pytestmark = pytest.mark.django_db(transaction=True)

Status = Conversation.Status


async def open_conversation(visitor_ws: Any, text: str = "hello") -> int:
    await send(visitor_ws, "message.send", {"client_id": text, "content": text})
    return (await recv_type(visitor_ws, "message.ack"))["id"]


async def conversation_of(message_id: int) -> Conversation:
    return await database_sync_to_async(
        lambda: Conversation.objects.select_related("assignee").get(messages__pk=message_id)
    )()


async def until(ws: Any, kind: str, check: Any) -> dict[str, Any]:
    """The next frame of `kind` that passes `check`, skipping the others."""
    while True:
        data = await recv_type(ws, kind, timeline=True)
        if check(data):
            return data


async def test_a_waiting_visitor_sees_their_place_and_an_agents_take_over_the_socket(enterprise, agent, second_agent):
    result = await login(enterprise)
    visitor_ws = visitor_socket(result.token)
    ready = await connect_ready(visitor_ws)
    assert ready["conversation"] is None
    first = await open_conversation(visitor_ws)
    place = (await recv_type(visitor_ws, "conversation"))["conversation"]
    assert (place["status"], place["queue_position"]) == ("waiting", 1)
    alice, bob = agent_socket(jwt=jwt_for(agent)), agent_socket(jwt=jwt_for(second_agent))
    ready = await connect_ready(alice)
    # Alice came online: routing gave her the waiting conversation at once.
    given = await until(alice, "conversation.updated", lambda d: d["change"] == "assigned")
    assert given["conversation"]["assignee"]["id"] == agent.pk
    seen = await until(visitor_ws, "conversation", lambda d: d["conversation"]["status"] == "open")
    assert seen["conversation"]["assignee"]["name"] == "Alice"
    await connect_ready(bob)
    conversation = await conversation_of(first)
    # Bob takes it: taken already. The error names the action by its ref.
    await send(bob, "conversation.take", {"conversation_id": conversation.pk, "ref": "t1"})
    refused = await recv_type(bob, "error")
    assert (refused["code"], refused["ref"]) == ("already_taken", "t1")
    await send(alice, "status.set", {"status": "away", "ref": "s1"})
    done = await recv_type(alice, "ok")
    assert done["ref"] == "s1" and done["agent"]["status"] == "away"
    heard = await until(bob, "agent.status", lambda d: d["id"] == agent.pk)
    assert heard["status"] == "away"
    for ws in (visitor_ws, alice, bob):
        await ws.disconnect()


async def test_a_transfer_over_the_socket_reaches_the_new_assignee_with_the_note_and_nobody_else(
    enterprise, agent, second_agent
):
    alice, bob = agent_socket(jwt=jwt_for(agent)), agent_socket(jwt=jwt_for(second_agent))
    await connect_ready(alice)
    await connect_ready(bob)
    result = await login(enterprise, agent)
    visitor_ws = visitor_socket(result.token)
    await connect_ready(visitor_ws)
    conversation = await conversation_of(await open_conversation(visitor_ws))
    assert conversation.assignee_id == agent.pk
    await send(
        alice,
        "conversation.transfer",
        {"conversation_id": conversation.pk, "to_agent_id": second_agent.pk, "note": "VIP customer", "ref": "x"},
    )
    done = await recv_type(alice, "ok")
    assert done["conversation"]["assignee"]["id"] == second_agent.pk
    handed = await recv_type(bob, "conversation.transferred")
    assert handed["note"] == "VIP customer" and handed["from"]["id"] == agent.pk
    seen = await until(visitor_ws, "conversation", lambda d: d["conversation"]["assignee"]["name"] == "Bob")
    assert seen["conversation"]["status"] == "open"
    line = await recv_type(visitor_ws, "message.new", timeline=True)
    assert line["kind"] == "event" and line["content"] == "transferred" and "VIP" not in str(line)
    # Alice's socket never carries the note.
    while not await alice.receive_nothing(timeout=0.3):
        assert "VIP customer" not in str(await recv(alice))
    # The next visitor message is in the same conversation, now Bob's.
    again = await open_conversation(visitor_ws, "still there?")
    assert (await conversation_of(again)).pk == conversation.pk
    for ws in (visitor_ws, alice, bob):
        await ws.disconnect()


async def test_a_visitor_socket_follows_a_close_made_elsewhere_and_its_next_message_opens_a_new_conversation(
    enterprise, agent
):
    agent_ws = agent_socket(jwt=jwt_for(agent))
    await connect_ready(agent_ws)
    result = await login(enterprise, agent)
    visitor_ws = visitor_socket(result.token)
    await connect_ready(visitor_ws)
    first = await conversation_of(await open_conversation(visitor_ws))
    # Closed over HTTP (another thread, maybe another process): the socket hears it.
    await database_sync_to_async(services.conversation_close)(agent=agent, conversation_id=first.pk)
    ended = await until(visitor_ws, "conversation", lambda d: d["conversation"]["status"] == "closed")
    assert ended["conversation"]["closed_by"] == "agent"
    second = await conversation_of(await open_conversation(visitor_ws, "one more thing"))
    assert second.pk != first.pk and second.status == Status.OPEN
    await send(visitor_ws, "conversation.close", {"ref": "bye"})
    done = await recv_type(visitor_ws, "ok")
    assert done["ref"] == "bye" and done["conversation"]["status"] == "closed"
    closed = await until(agent_ws, "conversation.updated", lambda d: d["conversation"]["id"] == second.pk)
    while closed["change"] != "closed":
        closed = await until(agent_ws, "conversation.updated", lambda d: d["conversation"]["id"] == second.pk)
    assert closed["conversation"]["closed_by"] == "visitor"
    for ws in (visitor_ws, agent_ws):
        await ws.disconnect()


async def test_a_message_stored_in_the_moment_after_a_close_is_given_a_new_conversation(enterprise, agent):
    result = await login(enterprise)
    visitor_ws = visitor_socket(result.token)
    await connect_ready(visitor_ws)
    first = await conversation_of(await open_conversation(visitor_ws))
    held: list[Any] = []
    # The close commits, but its events are late: the socket still thinks the conversation is open.
    with mock.patch("chat.services.timeline.publish_on_commit", lambda items: held.extend(items)):
        await database_sync_to_async(services.conversation_close)(agent=agent, conversation_id=first.pk)
    late = await open_conversation(visitor_ws, "are you there?")
    assert (await conversation_of(late)).pk == first.pk  # landed in the closed one
    await database_sync_to_async(broadcast.publish_on_commit)(held)
    adopted = await until(visitor_ws, "conversation", lambda d: d["conversation"]["id"] != first.pk)
    assert adopted["conversation"]["status"] == "waiting"
    moved = await conversation_of(late)
    assert moved.pk != first.pk and moved.status == Status.WAITING
    texts = await database_sync_to_async(
        lambda: list(Message.objects.filter(conversation=first).values_list("content", flat=True).order_by("pk"))
    )()
    assert texts == ["hello", "closed"]
    await visitor_ws.disconnect()


async def test_after_the_layer_reconnects_an_agent_socket_reads_conversations_again(enterprise, agent, second_agent):
    agent_ws = agent_socket(jwt=jwt_for(agent))
    await connect_ready(agent_ws)
    result = await login(enterprise)
    await database_sync_to_async(
        lambda: services.conversation_close(
            agent=User.objects.get(pk=agent.pk),
            conversation_id=Message.objects.create(
                enterprise=enterprise,
                visitor=result.visitor,
                conversation=services.conversations_open(visitors=[result.visitor], agent=agent)[result.visitor.pk],
                sender="agent",
                content="hi",
                client_id="seed",
            ).conversation_id,
        )
    )()
    vid = result.visitor.visitor_id
    await send(agent_ws, "message.send", {"client_id": "a1", "visitor_id": vid, "content": "first"})
    first = await conversation_of((await recv_type(agent_ws, "message.ack"))["id"])
    # Its close is never heard (events lost while the subscription was away), but the epoch moved on.
    with mock.patch("chat.services.timeline.publish_on_commit", lambda items: None):
        await database_sync_to_async(services.conversation_close)(agent=agent, conversation_id=first.pk)
    layers._epoch += 1
    try:
        await send(agent_ws, "message.send", {"client_id": "a2", "visitor_id": vid, "content": "second"})
        second = await conversation_of((await recv_type(agent_ws, "message.ack"))["id"])
    finally:
        layers._epoch -= 1
    assert second.pk != first.pk and second.assignee_id == agent.pk
    await agent_ws.disconnect()


async def test_an_action_the_agent_may_not_take_is_refused_with_forbidden(enterprise, agent):
    await database_sync_to_async(agent.groups.clear)()
    result = await login(enterprise)
    visitor_ws = visitor_socket(result.token)
    await connect_ready(visitor_ws)
    conversation = await conversation_of(await open_conversation(visitor_ws))
    agent_ws = agent_socket(jwt=jwt_for(agent))
    ready = await connect_ready(agent_ws)
    assert ready["agent"]["permissions"] == []
    for kind in ("conversation.take", "conversation.close"):
        await send(agent_ws, kind, {"conversation_id": conversation.pk, "ref": kind})
        refused = await recv_type(agent_ws, "error")
        assert (refused["code"], refused["ref"]) == ("forbidden", kind)
    for ws in (visitor_ws, agent_ws):
        await ws.disconnect()


async def test_malformed_action_frames_get_an_error_each_and_the_socket_stays_open(enterprise, agent, second_agent):
    result = await login(enterprise)
    visitor_ws = visitor_socket(result.token)
    await connect_ready(visitor_ws)
    conversation = await conversation_of(await open_conversation(visitor_ws))
    agent_ws = agent_socket(jwt=jwt_for(agent))
    await connect_ready(agent_ws)
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("conversation.take", {"conversation_id": None}, "not_found"),
        ("conversation.take", {"conversation_id": [conversation.pk]}, "not_found"),
        ("conversation.take", {"conversation_id": {"id": 1}}, "not_found"),
        ("conversation.take", {"conversation_id": 2**64}, "not_found"),
        ("conversation.take", {"conversation_id": "1e3"}, "not_found"),
        ("conversation.close", {"conversation_id": True}, "not_found"),
        ("conversation.transfer", {"conversation_id": conversation.pk, "to_agent_id": "x"}, "bad_note_or_agent"),
        (
            "conversation.transfer",
            {"conversation_id": conversation.pk, "to_agent_id": second_agent.pk, "note": 5},
            "bad_note",
        ),
        ("status.set", {"status": ["online"]}, "bad_status"),
        ("status.set", {}, "bad_status"),
    ]
    for i, (kind, data, code) in enumerate(cases):
        await send(agent_ws, kind, {**data, "ref": f"r{i}"})
        refused = await recv_type(agent_ws, "error")
        assert refused["ref"] == f"r{i}"
        assert refused["code"] == code or (code == "bad_note_or_agent" and refused["code"] == "not_found")
    await send(agent_ws, "ping")
    assert (await recv_type(agent_ws, "pong"))["time"] > 0
    for ws in (visitor_ws, agent_ws):
        await ws.disconnect()


async def test_an_agents_ready_is_bounded_and_says_what_it_left_out(enterprise, agent):
    await database_sync_to_async(lambda: User.objects.filter(pk=agent.pk).update(status="away"))()
    for i in range(5):
        result = await login(enterprise)
        await database_sync_to_async(message_create)(
            visitor=result.visitor, sender="visitor", content=f"q{i}", client_id=f"q{i}"
        )
    with mock.patch.object(selectors, "READY_QUEUE", 2):
        agent_ws = agent_socket(jwt=jwt_for(agent))
        ready = await connect_ready(agent_ws)
    assert ready["conversations_more"] is True
    assert ready["counts"] == {"mine": 0, "queue": 5, "open": 5, "closed": 0}
    # The oldest of the queue, with their visitors.
    assert [c["visitor"]["last_message"]["content"] for c in ready["conversations"]] == ["q0", "q1"]
    await agent_ws.disconnect()
    agent_ws = agent_socket(jwt=jwt_for(agent))
    ready = await connect_ready(agent_ws)
    assert ready["conversations_more"] is False and len(ready["conversations"]) == 5
    await agent_ws.disconnect()
