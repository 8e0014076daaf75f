"""The shapes of frames and events, which clients and other processes depend on."""

from __future__ import annotations

import pytest

from chat import frames
from chat.frames import FrameError
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
        "avatar",
        "city",
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
