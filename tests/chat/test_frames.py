"""The shapes of frames and events, which clients and other processes depend on."""

from __future__ import annotations

import pytest

from chat import frames, services
from chat.frames import FrameError
from chat.models import Conversation, Message
from chat.services import message_create
from tests.conftest import login_visitor

pytestmark = pytest.mark.django_db


def test_a_message_payload_has_the_documented_fields(enterprise, agent):
    visitor = login_visitor(enterprise, agent).visitor
    message, _ = message_create(visitor=visitor, sender="agent", content="hi", client_id="c", agent=agent)
    payload = frames.message_payload(message, visitor.visitor_id)
    assert set(payload) == {
        "id",
        "client_id",
        "visitor_id",
        "conversation_id",
        "sender",
        "kind",
        "content",
        "created_at",
        "read_at",
        "agent",
    }
    assert payload["agent"] == {"id": agent.pk, "name": "Alice", "avatar": agent.avatar}
    ack = frames.ack_frame(message, duplicate=False)
    assert ack == {
        "type": "message.ack",
        "data": {"client_id": "c", "id": message.pk, "created_at": payload["created_at"], "duplicate": False},
    }


def test_a_visitor_payload_has_the_documented_fields(enterprise, agent):
    visitor = login_visitor(enterprise, agent).visitor
    assert set(frames.visitor_payload(visitor)) == {
        "visitor_id",
        "name",
        "real_name",
        "avatar",
        "channel",
        "city",
        "country",
        "region",
        "isp",
        "os",
        "browser",
        "device",
        "device_model",
        "search_words",
        "ip",
        "referrer",
        "landing_page",
        "user_agent",
        "extra",
        "visits",
        "created_at",
        "updated_at",
    }


def test_events_carry_a_ready_frame_and_errors_their_ref():
    frame = frames.frame("pong", {})
    assert frames.event(frame) == {"type": "forward.frame", "frame": frame}
    assert frames.message_new_frame({"id": 1}) == {"type": "message.new", "data": {"id": 1}}
    # The same frame, for the consumers to forward only where it was never sent (consumers.forward_missing).
    assert frames.redelivery_event(frame) == {"type": "forward.missing", "frame": frame}
    assert frames.error_frame("empty", "Message is empty.", "c1") == {
        "type": "error",
        "data": {"code": "empty", "message": "Message is empty.", "ref": "c1"},
    }


def test_parse_accepts_a_frame_without_data_and_refuses_the_rest():
    assert frames.parse('{"type":"ping"}', {"ping"}) == ("ping", {})
    with pytest.raises(FrameError) as err:
        frames.parse('{"type":"ping","data":[1]}', {"ping"})
    assert err.value.code == "bad_frame"


def test_group_names_are_distinct_per_enterprise_and_visitor():
    names = {frames.group_agents(1), frames.group_agents(2), frames.group_visitors(1), frames.group_visitor(1)}
    assert len(names) == 4


def test_the_per_agent_group_and_the_revocation_event_have_their_documented_shape():
    assert frames.group_agent(7) == "agent.7"
    # "agent.revoked" is dispatched to AgentConsumer.agent_revoked, which closes the socket.
    assert frames.agent_revoked_event() == {"type": "agent.revoked"}


def test_conversation_payloads_have_the_documented_fields_and_the_visitors_view_has_no_agent_internals(
    enterprise, agent
):
    visitor = login_visitor(enterprise, agent).visitor
    message, _ = message_create(visitor=visitor, sender="agent", content="hi", client_id="c", agent=agent)
    conversation = Conversation.objects.select_related("assignee").get(pk=message.conversation_id)
    conversation.transfer_note = "for the assignee only"
    payload = frames.conversation_payload(conversation, visitor.visitor_id)
    assert set(payload) == {
        "id",
        "visitor_id",
        "channel",
        "status",
        "assignee",
        "created_at",
        "assigned_at",
        "first_reply_at",
        "last_activity_at",
        "closed_at",
        "closed_by",
    }
    assert payload["assignee"] == {"id": agent.pk, "name": "Alice", "avatar": agent.avatar_url}
    seen = frames.conversation_visitor_payload(conversation, 3)
    assert seen == {
        "id": conversation.pk,
        "status": "open",
        "assignee": {"name": "Alice", "avatar": agent.avatar_url},
        "queue_position": None,  # only while waiting
        "closed_by": None,
    }
    assert frames.conversation_visitor_payload(None, None) is None
    assert frames.conversation_updated_frame(payload, "taken") == {
        "type": "conversation.updated",
        "data": {"change": "taken", "conversation": payload},
    }
    assert frames.conversation_visitor_frame(seen) == {"type": "conversation", "data": {"conversation": seen}}
    handed = frames.conversation_transferred_frame(payload, agent, "a note")
    assert handed["type"] == "conversation.transferred"
    assert set(handed["data"]) == {"conversation", "from", "note"}
    assert "for the assignee only" not in repr((payload, seen))


def test_agent_status_and_the_other_server_frames_have_their_documented_shape(enterprise, agent):
    status = frames.agent_status_payload(agent, online=False, load=2)
    assert status == {
        "id": agent.pk,
        "name": "Alice",
        "avatar": agent.avatar_url,
        "status": "offline",
        "chosen": "online",
        "load": 2,
        "limit": 10,
    }
    assert frames.agent_status_frame(status) == {"type": "agent.status", "data": status}
    assert frames.ok_frame("r1", {"agent": status}) == {"type": "ok", "data": {"ref": "r1", "agent": status}}
    assert frames.visitor_cleared_frame("v1") == {"type": "visitor.cleared", "data": {"visitor_id": "v1"}}
    assert frames.agents_online_frame(2) == {"type": "agents", "data": {"online": 2}}
    assert frames.visitor_offline_frame("v1") == {"type": "visitor.offline", "data": {"visitor_id": "v1"}}
    assert frames.visitor_online_frame({"visitor_id": "v1"}) == {"type": "visitor.online", "data": {"visitor_id": "v1"}}
    assert frames.visitor_read_frame("v1", 7) == {"type": "visitor.read", "data": {"visitor_id": "v1", "up_to": 7}}
    assert frames.read_frame("v1", 5, agent.pk) == {
        "type": "read",
        "data": {"visitor_id": "v1", "up_to": 5, "by": agent.pk},
    }
    assert frames.typing_from_visitor_frame("v1", "x" * 300)["data"] == {
        "visitor_id": "v1",
        "sender": "visitor",
        "content": "x" * 200,
    }
    assert frames.typing_from_agent_frame("v1", agent)["data"] == {
        "visitor_id": "v1",
        "sender": "agent",
        "name": "Alice",
    }
    assert frames.history_frame(3, [], False) == {
        "type": "history",
        "data": {"after": 3, "messages": [], "more": False},
    }
    assert frames.pong_frame(1.5) == {"type": "pong", "data": {"time": 1.5}}


def test_ready_frames_have_their_documented_keys(enterprise, agent):
    visitor = login_visitor(enterprise, agent).visitor
    ready = frames.visitor_ready_frame(
        visitor, agents_online=1, last_message_id=0, conversation=None, language="zh-hans"
    )
    assert ready["type"] == "ready"
    assert set(ready["data"]) == {
        "visitor",
        "agents_online",
        "welcome",
        "offline_text",
        "last_message_id",
        "conversation",
    }
    agent_ready = frames.agent_ready_frame(
        {"id": 1}, visitors=[], conversations=[], conversations_more=False, counts={}, agents=[], last_message_id=0
    )
    assert set(agent_ready["data"]) == {
        "agent",
        "visitors",
        "conversations",
        "conversations_more",
        "counts",
        "agents",
        "last_message_id",
    }


def test_a_timeline_line_carries_its_meta_and_other_messages_none(enterprise, agent):
    visitor = login_visitor(enterprise).visitor
    message, _ = message_create(visitor=visitor, sender="visitor", content="hi", client_id="c")
    assert "meta" not in frames.message_payload(message, visitor.visitor_id)
    services.conversation_take(agent=agent, conversation_id=message.conversation_id)
    line = Message.objects.get(kind="event")
    payload = frames.message_payload(line, visitor.visitor_id)
    assert (payload["sender"], payload["kind"], payload["content"]) == ("system", "event", "taken")
    assert payload["meta"]["agent"]["id"] == agent.pk
    assert payload["meta"]["conversation"] == {
        "id": message.conversation_id,
        "status": "open",
        "assignee": {"id": agent.pk, "name": "Alice", "avatar": agent.avatar_url},
    }
