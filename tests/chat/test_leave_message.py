"""Leaving a message while no agent is online: the service, its refusals, the HTTP endpoint, and the queue."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from rest_framework.test import APIClient

from accounts.models import User
from chat import frames, selectors, services
from chat.models import Conversation, Message, Visitor
from chat.realtime.presence import AGENT, Presence, get_presence
from chat.services import offline_message_leave
from core.errors import ChatError
from tests.conftest import login_visitor

# Transactions commit for real: the message is published on commit.
pytestmark = pytest.mark.django_db(transaction=True)


def visitor_client(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Visitor {token}")
    return client


def test_a_left_message_waits_in_the_queue_marked_with_the_name_and_contact(enterprise, agent, published):
    visitor = login_visitor(enterprise).visitor
    message = offline_message_leave(visitor=visitor, name=" Li Lei ", contact="+86 138-0000-0000", content=" Call me ")
    stored = Message.objects.get(pk=message.pk)
    assert (stored.sender, stored.kind, stored.content) == ("visitor", "text", "Call me")
    assert stored.meta == {"left_message": True, "name": "Li Lei", "contact": "+86 138-0000-0000"}
    conversation = Conversation.objects.get(pk=stored.conversation_id)
    assert (conversation.status, conversation.assignee_id) == (Conversation.Status.WAITING, None)
    visitor = Visitor.objects.get(pk=visitor.pk)
    assert visitor.name == "Li Lei" and visitor.extra["contact"] == "+86 138-0000-0000"
    # Published to the agents like any message, with its meta, after the commit.
    new = [f["data"] for g, f in published if f["type"] == "message.new" and g == frames.group_agents(enterprise.pk)]
    assert new[0]["meta"]["left_message"] is True
    # The console's rows say it is a left message.
    summary = selectors.visitor_summaries(enterprise_id=enterprise.pk)[0]
    assert summary["last_message"]["meta"]["contact"] == "+86 138-0000-0000"
    assert summary["extra"]["contact"] == "+86 138-0000-0000"


def test_the_contact_left_earlier_survives_the_extra_of_the_visitors_next_page(enterprise):
    first = login_visitor(enterprise, extra={"plan": "basic"})
    offline_message_leave(visitor=first.visitor, name="", contact="li@example.com", content="Call me")
    again = login_visitor(enterprise, token=first.token, extra={"plan": "pro", "contact": "forged@example.com"})
    assert again.visitor.pk == first.visitor.pk
    assert Visitor.objects.get(pk=first.visitor.pk).extra == {"plan": "pro", "contact": "li@example.com"}


def test_an_agent_coming_online_is_given_the_left_message(enterprise, agent):
    visitor = login_visitor(enterprise).visitor
    before = visitor.name
    message = offline_message_leave(visitor=visitor, name="", contact="li@example.com", content="Hello?")
    async_to_sync(get_presence().join)(Presence(enterprise.pk, AGENT, agent.pk, f"test.{agent.pk}"))
    services.agent_presence_changed(agent=User.objects.select_related("enterprise").get(pk=agent.pk), online=True)
    conversation = Conversation.objects.get(pk=message.conversation_id)
    assert (conversation.status, conversation.assignee_id) == (Conversation.Status.OPEN, agent.pk)
    # Without a name given, the visitor keeps theirs.
    assert Visitor.objects.get(pk=visitor.pk).name == before


@pytest.mark.parametrize(
    ("contact", "content", "code"),
    [
        ("", "hi", "bad_contact"),
        ("not an address", "hi", "bad_contact"),
        ("li@", "hi", "bad_contact"),
        ("1234", "hi", "bad_contact"),
        ("1" * 31, "hi", "bad_contact"),
        ("12345-abc", "hi", "bad_contact"),
        (None, "hi", "bad_contact"),
        ("li@example.com", "   ", "empty"),
        ("li@example.com", "x" * 5001, "too_large"),
    ],
)
def test_a_bad_contact_or_content_is_refused_with_its_code_and_stores_nothing(enterprise, contact, content, code):
    visitor = login_visitor(enterprise).visitor
    with pytest.raises(ChatError) as caught:
        offline_message_leave(visitor=visitor, name="Li", contact=contact, content=content)
    assert caught.value.code == code
    assert not Message.objects.filter(visitor=visitor).exists()
    assert not Conversation.objects.filter(visitor=visitor).exists()
    assert "contact" not in Visitor.objects.get(pk=visitor.pk).extra


def test_a_name_over_a_hundred_characters_is_refused(enterprise):
    visitor = login_visitor(enterprise).visitor
    with pytest.raises(ChatError) as caught:
        offline_message_leave(visitor=visitor, name="x" * 101, contact="li@example.com", content="hi")
    assert caught.value.code == "bad_name"


def test_the_endpoint_answers_201_with_the_message(enterprise, agent):
    login = login_visitor(enterprise)
    response = visitor_client(login.token).post(
        "/api/v1/visitor/leave-message",
        {"name": "Li", "contact": "li@example.com", "content": "Please call back"},
        format="json",
    )
    assert response.status_code == 201
    message = response.json()["message"]
    assert message["content"] == "Please call back" and message["sender"] == "visitor"
    assert message["meta"] == {"left_message": True, "name": "Li", "contact": "li@example.com"}
    assert message["visitor_id"] == login.visitor.visitor_id


def test_the_endpoint_refuses_a_bad_contact_and_an_anonymous_caller(enterprise):
    login = login_visitor(enterprise)
    response = visitor_client(login.token).post(
        "/api/v1/visitor/leave-message", {"contact": "nope", "content": "hi"}, format="json"
    )
    assert (response.status_code, response.json()["error"]["code"]) == (400, "bad_contact")
    too_long = visitor_client(login.token).post(
        "/api/v1/visitor/leave-message", {"contact": "li@example.com", "content": "x" * 5001}, format="json"
    )
    assert (too_long.status_code, too_long.json()["error"]["code"]) == (413, "too_large")
    anonymous = APIClient().post("/api/v1/visitor/leave-message", {"contact": "li@example.com", "content": "hi"})
    assert anonymous.status_code == 401


def test_a_visitors_token_writes_only_into_its_own_thread(enterprise, other_enterprise):
    mine = login_visitor(enterprise)
    theirs = login_visitor(enterprise)
    elsewhere = login_visitor(other_enterprise)
    for login in (theirs, elsewhere):
        response = visitor_client(login.token).post(
            "/api/v1/visitor/leave-message",
            # Naming another visitor in the body changes nothing: the token says whose thread it is.
            {"contact": "li@example.com", "content": "hi", "visitor_id": mine.visitor.visitor_id},
            format="json",
        )
        assert response.status_code == 201
    assert not Message.objects.filter(visitor=mine.visitor).exists()
    assert Message.objects.get(visitor=theirs.visitor).enterprise_id == enterprise.pk
    assert Message.objects.get(visitor=elsewhere.visitor).enterprise_id == other_enterprise.pk
