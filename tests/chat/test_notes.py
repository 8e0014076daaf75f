"""Internal notes: stored in the visitor's thread for the enterprise's agents, never delivered to the
visitor on any path, and changing nothing the visitor or the queue sees. One test per path."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chat import frames, selectors
from chat.models import Conversation, Message, Visitor
from chat.realtime import healing
from chat.services import NewMessage, message_create, messages_create, messages_mark_read_by_visitor
from core.errors import ChatError
from tests.chat.test_api import agent_client, visitor_client
from tests.conftest import login_visitor

from .test_consumers import jwt_for
from .wsutil import agent_socket, connect_ready, recv, recv_type, send, visitor_socket

pytestmark = pytest.mark.django_db(transaction=True)

NOTE = Message.Sender.NOTE


def _visitor_wrote(enterprise: Any, agent: Any) -> tuple[Any, Visitor]:
    login = login_visitor(enterprise, agent)
    message_create(visitor=login.visitor, sender=Message.Sender.VISITOR, content="hello", client_id="v1")
    return login, Visitor.objects.select_related("open_conversation", "enterprise").get(pk=login.visitor.pk)


def _note(visitor: Visitor, agent: Any, text: str = "secret: refund approved", client_id: str = "n1") -> Message:
    message, _created = message_create(visitor=visitor, sender=NOTE, content=text, client_id=client_id, agent=agent)
    return message


def test_a_note_is_published_to_the_agents_group_only(enterprise, agent, published):
    _login, visitor = _visitor_wrote(enterprise, agent)
    published.clear()
    note = _note(visitor, agent)
    assert note.sender == "note" and note.agent_id == agent.pk
    assert note.conversation_id == visitor.open_conversation.pk
    assert [group for group, _frame in published] == [frames.group_agents(enterprise.pk)]
    assert published[0][1]["data"]["sender"] == "note"


def test_a_resent_note_is_offered_again_to_the_agents_only(enterprise, agent, published):
    _login, visitor = _visitor_wrote(enterprise, agent)
    _note(visitor, agent)
    published.clear()
    _again, created = message_create(visitor=visitor, sender=NOTE, content="x", client_id="n1", agent=agent)
    assert not created
    assert published == [(frames.group_agents(enterprise.pk), frames.message_new_frame(published[0][1]["data"]))]


def test_a_visitors_http_history_never_holds_a_note_and_the_agents_does(enterprise, agent):
    login, visitor = _visitor_wrote(enterprise, agent)
    note = _note(visitor, agent)
    seen = visitor_client(login.token).get("/api/v1/visitor/messages").json()["messages"]
    assert [m["content"] for m in seen] == ["hello"]
    assert note.pk not in [m["id"] for m in seen]
    agents = agent_client(agent).get(f"/api/v1/agent/visitors/{visitor.visitor_id}/messages").json()["messages"]
    assert note.pk in [m["id"] for m in agents]


def test_a_visitors_sync_never_holds_a_note(enterprise, agent):
    _login, visitor = _visitor_wrote(enterprise, agent)
    note = _note(visitor, agent)
    messages, _more = selectors.messages_after_for_visitor(visitor_pk=visitor.pk, after=0)
    assert "note" not in [m["sender"] for m in messages]
    agents, _more = selectors.messages_after_for_enterprise(enterprise_id=enterprise.pk, after=0)
    assert note.pk in [m["id"] for m in agents]


def test_healing_a_visitor_socket_never_sends_a_note(enterprise, agent):
    _login, visitor = _visitor_wrote(enterprise, agent)
    note = _note(visitor, agent)

    class Socket:
        def __init__(self, scope: tuple[str, int]) -> None:
            self.scope = scope
            self.sent: list[dict[str, Any]] = []

        def heal_scope(self) -> tuple[str, int]:
            return self.scope

        async def deliver_missing(self, payloads: list[dict[str, Any]]) -> None:
            self.sent += payloads

    visitor_side, agent_side = Socket(("visitor", visitor.pk)), Socket(("enterprise", enterprise.pk))
    assert asyncio.run(healing.heal([visitor_side, agent_side], 0))  # type: ignore[list-item]
    assert [m["content"] for m in visitor_side.sent] == ["hello"]
    assert note.pk in [m["id"] for m in agent_side.sent]


def test_a_note_opens_claims_and_touches_nothing_the_visitor_or_the_queue_sees(enterprise, agent):
    _login, visitor = _visitor_wrote(enterprise, agent)
    conversation = visitor.open_conversation
    assert conversation.status == Conversation.Status.WAITING
    last_message_at = Visitor.objects.get(pk=visitor.pk).last_message_at
    Visitor.objects.filter(pk=visitor.pk).update(last_message_at=None)  # any touch would show
    visitor.last_message_at = None
    note = _note(visitor, agent)
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.WAITING and conversation.assignee_id is None
    assert conversation.first_reply_at is None
    assert Visitor.objects.get(pk=visitor.pk).last_message_at is None
    assert last_message_at is not None
    assert messages_mark_read_by_visitor(visitor=visitor, up_to=note.pk) == 0  # the visitor marks no note read
    assert Message.objects.get(pk=note.pk).read_at is None


def test_a_note_goes_in_the_latest_conversation_once_closed_and_is_refused_before_any(enterprise, agent):
    login = login_visitor(enterprise, agent)
    fresh = Visitor.objects.select_related("open_conversation", "enterprise").get(pk=login.visitor.pk)
    with pytest.raises(ChatError) as caught:
        _note(fresh, agent)
    assert caught.value.code == "no_conversation"
    assert not Conversation.objects.exists() and not Message.objects.exists()
    _login, visitor = _visitor_wrote(enterprise, agent)
    conversation = visitor.open_conversation
    Conversation.objects.filter(pk=conversation.pk).update(status="closed", open_visitor=None)
    visitor = Visitor.objects.select_related("open_conversation", "enterprise").get(pk=visitor.pk)
    note = _note(visitor, agent, client_id="n2")
    assert note.conversation_id == conversation.pk
    assert Conversation.objects.count() == 1  # nothing opened


def test_a_note_is_text_only_and_another_enterprises_agent_cannot_write_one(enterprise, agent, other_agent):
    _login, visitor = _visitor_wrote(enterprise, agent)
    results = messages_create(
        [
            NewMessage(visitor, NOTE, "", "n1", agent, attachment="k" * 32),
            NewMessage(None, NOTE, "x", "n2", other_agent, visitor.visitor_id),
        ]
    )
    assert [r.code for r in results] == ["bad_note", "not_found"]  # type: ignore[union-attr]
    assert not Message.objects.filter(sender=NOTE).exists()


def test_a_note_costs_no_query_more_than_an_agent_message(enterprise, agent):
    _login, visitor = _visitor_wrote(enterprise, agent)
    conversation = visitor.open_conversation
    Conversation.objects.filter(pk=conversation.pk).update(status="open", assignee=agent)
    visitor = Visitor.objects.select_related("open_conversation", "enterprise").get(pk=visitor.pk)
    message_create(visitor=visitor, sender=Message.Sender.AGENT, content="warm-up", client_id="a0", agent=agent)
    counts: list[int] = []
    for sender in (Message.Sender.AGENT, NOTE, NOTE):
        with CaptureQueriesContext(connection) as queries:
            message_create(
                visitor=visitor, sender=sender, content="x", client_id=f"{sender}-{len(counts)}", agent=agent
            )
        counts.append(len(queries))
    assert counts[1] <= counts[0] and counts[2] <= counts[0], counts


def test_the_http_api_sends_a_note_with_note_true_and_a_visitor_cannot(enterprise, agent):
    login, visitor = _visitor_wrote(enterprise, agent)
    client = agent_client(agent)
    url = f"/api/v1/agent/visitors/{visitor.visitor_id}/messages"
    answer = client.post(url, {"client_id": "n1", "content": "VIP", "note": True}, format="json")
    assert answer.status_code == 201 and answer.json()["message"]["sender"] == "note"
    assert client.post(url, {"client_id": "n2", "content": "x", "note": "maybe"}, format="json").status_code == 400
    visitor_answer = visitor_client(login.token).post(
        "/api/v1/visitor/messages", {"client_id": "v9", "content": "hi", "note": True}, format="json"
    )
    assert visitor_answer.json()["message"]["sender"] == "visitor"


async def _both(ws: Any) -> dict[str, dict[str, Any]]:
    got: dict[str, dict[str, Any]] = {}
    while len(got) < 2:
        frame = await recv(ws)
        if frame["type"] in ("message.new", "message.ack") and frame["data"].get("kind") != "event":
            got[frame["type"]] = frame["data"]
    return got


async def test_the_visitor_socket_never_receives_a_note_live_nor_in_its_ready_frame(enterprise, agent):
    login, visitor = await database_sync_to_async(_visitor_wrote)(enterprise, agent)
    visitor_ws = visitor_socket(login.token)
    await connect_ready(visitor_ws)
    agent_ws = agent_socket(jwt=await database_sync_to_async(jwt_for)(agent))
    await connect_ready(agent_ws)
    await send(
        agent_ws, "message.send", {"visitor_id": visitor.visitor_id, "client_id": "n1", "content": "psst", "note": True}
    )
    got = await _both(agent_ws)  # the ack and the push, in either order
    assert got["message.new"]["sender"] == "note" and got["message.new"]["content"] == "psst"
    assert got["message.ack"]["client_id"] == "n1"
    await send(
        agent_ws, "message.send", {"visitor_id": visitor.visitor_id, "client_id": "n2", "content": "x", "note": 1}
    )
    assert (await recv_type(agent_ws, "error"))["code"] == "bad_frame"
    await send(agent_ws, "message.send", {"visitor_id": visitor.visitor_id, "client_id": "a1", "content": "hello you"})
    # The visitor's next message is the reply: the note before it never came.
    reached = await recv_type(visitor_ws, "message.new")
    assert reached["content"] == "hello you"
    await send(visitor_ws, "sync", {"after": 0})
    history = await recv_type(visitor_ws, "history")
    assert "psst" not in [m["content"] for m in history["messages"]]
    await visitor_ws.disconnect()
    # A note written last: the visitor's ready frame names the reply as the last message, not the note.
    await send(
        agent_ws, "message.send", {"visitor_id": visitor.visitor_id, "client_id": "n3", "content": "late", "note": True}
    )
    ack = await recv_type(agent_ws, "message.ack")
    while ack["client_id"] != "n3":
        ack = await recv_type(agent_ws, "message.ack")
    note_id = ack["id"]
    again = visitor_socket(login.token)
    ready = await connect_ready(again)
    assert ready["last_message_id"] == reached["id"] < note_id
    assert "late" not in str(ready)
    await again.disconnect()
    await agent_ws.disconnect()
