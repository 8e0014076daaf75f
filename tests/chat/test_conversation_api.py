"""The conversation endpoints of the agent and visitor API: tabs, actions, refusals, bad input."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.permissions import ROLE_ENTERPRISE_ADMIN
from accounts.services import agent_create
from chat.models import Conversation
from tests.conftest import AGENT_PASSWORD, login_visitor

from .test_api import agent_client, visitor_client
from .test_conversations import go_online, write

pytestmark = pytest.mark.django_db(transaction=True)


def waiting_visitors(enterprise: Any, count: int) -> list[Any]:
    visitors = [login_visitor(enterprise) for _ in range(count)]
    for i, login in enumerate(visitors):
        write(login.visitor, f"question {i}")
    return visitors


def test_the_tabs_list_conversations_with_their_visitor_and_counts_in_a_fixed_number_of_queries(
    enterprise, agent, second_agent
):
    go_online(agent)
    agent.max_conversations = 1
    agent.save()
    waiting_visitors(enterprise, 4)  # one for Alice, three waiting
    client = agent_client(agent)
    mine = client.get("/api/v1/agent/conversations?tab=mine").json()
    assert mine["counts"] == {"mine": 1, "queue": 3, "open": 4, "closed": 0}
    assert [c["assignee"]["id"] for c in mine["conversations"]] == [agent.pk]
    assert mine["conversations"][0]["visitor"]["last_message"]["content"] == "question 0"
    queue = client.get("/api/v1/agent/conversations?tab=queue").json()["conversations"]
    assert [c["visitor"]["last_message"]["content"] for c in queue] == ["question 1", "question 2", "question 3"]
    page = client.get(f"/api/v1/agent/conversations?tab=queue&limit=2&before={queue[0]['id']}").json()
    assert [c["id"] for c in page["conversations"]] == [queue[1]["id"], queue[2]["id"]] and page["more"] is False
    with CaptureQueriesContext(connection) as few:
        client.get("/api/v1/agent/conversations?tab=open&limit=2")
    waiting_visitors(enterprise, 5)
    with CaptureQueriesContext(connection) as many:
        client.get("/api/v1/agent/conversations?tab=open&limit=200")
    assert len(many.captured_queries) == len(few.captured_queries)


def test_take_transfer_close_and_reopen_over_http(enterprise, agent, second_agent):
    go_online(agent, second_agent)
    visitor = waiting_visitors(enterprise, 1)[0].visitor
    alice, bob = agent_client(agent), agent_client(second_agent)
    pk = Conversation.objects.get(visitor=visitor).pk
    assert Conversation.objects.get(pk=pk).assignee_id in {agent.pk, second_agent.pk}
    Conversation.objects.filter(pk=pk).update(status="waiting", assignee=None)
    taken = alice.post(f"/api/v1/agent/conversations/{pk}/take")
    assert taken.status_code == 200 and taken.json()["assignee"]["id"] == agent.pk
    late = bob.post(f"/api/v1/agent/conversations/{pk}/take")
    assert late.status_code == 409 and late.json()["error"]["code"] == "already_taken"
    moved = alice.post(
        f"/api/v1/agent/conversations/{pk}/transfer", {"to_agent_id": second_agent.pk, "note": "VIP"}, format="json"
    )
    assert moved.status_code == 200 and "transfer_note" not in moved.json()
    # The note is for the new assignee alone.
    assert bob.get(f"/api/v1/agent/conversations/{pk}").json()["transfer_note"] == "VIP"
    assert "transfer_note" not in alice.get(f"/api/v1/agent/conversations/{pk}").json()
    closed = bob.post(f"/api/v1/agent/conversations/{pk}/close")
    assert closed.json()["status"] == "closed" and closed.json()["closed_by"] == "agent"
    reopened = alice.post(f"/api/v1/agent/conversations/{pk}/reopen")
    assert reopened.json()["status"] == "open" and reopened.json()["assignee"]["id"] == agent.pk
    timeline = alice.get(f"/api/v1/agent/conversations/{pk}/messages").json()["messages"]
    assert [m["content"] for m in reversed(timeline)] == ["question 0", "taken", "transferred", "closed", "reopened"]
    roster = alice.get("/api/v1/agent/agents").json()["agents"]
    assert {a["id"]: a["load"] for a in roster} == {agent.pk: 1, second_agent.pk: 0}
    assert alice.post("/api/v1/agent/status", {"status": "away"}, format="json").json()["chosen"] == "away"
    bad = alice.post("/api/v1/agent/status", {"status": "asleep"}, format="json")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_status"


def test_another_enterprises_conversation_answers_exactly_like_a_missing_one(
    enterprise, agent, other_enterprise, other_agent
):
    visitor = waiting_visitors(enterprise, 1)[0].visitor
    pk = Conversation.objects.get(visitor=visitor).pk
    intruder = agent_client(other_agent)
    for path in ("", "/messages"):
        theirs, missing = (
            intruder.get(f"/api/v1/agent/conversations/{pk}{path}"),
            intruder.get(f"/api/v1/agent/conversations/{10**12}{path}"),
        )
        assert theirs.status_code == missing.status_code == 404 and theirs.json() == missing.json()
    for action in ("take", "close", "reopen", "transfer"):
        theirs = intruder.post(
            f"/api/v1/agent/conversations/{pk}/{action}", {"to_agent_id": other_agent.pk}, format="json"
        )
        missing = intruder.post(
            f"/api/v1/agent/conversations/{10**12}/{action}", {"to_agent_id": other_agent.pk}, format="json"
        )
        assert theirs.status_code == missing.status_code == 404 and theirs.json() == missing.json()
    # Transferring one's own conversation to another enterprise's agent: that agent is "not found".
    go_online(agent, other_agent)
    own = agent_client(agent)
    answer = own.post(f"/api/v1/agent/conversations/{pk}/transfer", {"to_agent_id": other_agent.pk}, format="json")
    assert answer.status_code == 404
    assert intruder.get("/api/v1/agent/conversations").json()["counts"] == {
        "mine": 0,
        "queue": 0,
        "open": 0,
        "closed": 0,
    }
    assert Conversation.objects.get(pk=pk).status == "waiting"


def test_clearing_history_over_http_needs_the_permission(enterprise, agent):
    admin = agent_create(
        enterprise=enterprise, username="boss", password=AGENT_PASSWORD, nickname="Boss", role=ROLE_ENTERPRISE_ADMIN
    )
    visitor = waiting_visitors(enterprise, 1)[0].visitor
    path = f"/api/v1/agent/visitors/{visitor.visitor_id}/clear"
    refused = agent_client(agent).post(path)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert agent_client(admin).post(path).json() == {"cleared": True}
    assert not Conversation.objects.filter(visitor=visitor).exists()
    assert agent_client(admin).get(f"/api/v1/agent/visitors/{visitor.visitor_id}/messages").json()["messages"] == []


def test_a_visitor_sees_their_conversation_and_ends_it(enterprise, agent):
    login = waiting_visitors(enterprise, 2)[1]
    client = visitor_client(login.token)
    seen = client.get("/api/v1/visitor/conversation").json()["conversation"]
    assert (seen["status"], seen["queue_position"], seen["assignee"]) == ("waiting", 2, None)
    ended = client.post("/api/v1/visitor/conversation/close").json()["conversation"]
    assert (ended["status"], ended["closed_by"]) == ("closed", "visitor")
    assert client.get("/api/v1/visitor/conversation").json() == {"conversation": None}
    assert client.post("/api/v1/visitor/conversation/close").json() == {"conversation": None}


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"to_agent_id": "x"},
        {"to_agent_id": 2**70},
        {"to_agent_id": -1},
        {"to_agent_id": 2, "note": "n" * 501},
        {"to_agent_id": 2, "note": {"deep": [1]}},
        '{"to_agent_id": 2, "note": "bad \\ud800"}',  # a lone surrogate, as raw JSON
        '{"to_agent_id": ' + "[" * 50 + "]" * 50 + "}",
        "not json",
    ],
)
def test_bad_transfer_bodies_get_a_clear_400_and_change_nothing(enterprise, agent, second_agent, body):
    go_online(agent, second_agent)
    visitor = waiting_visitors(enterprise, 1)[0].visitor
    conversation = Conversation.objects.get(visitor=visitor)
    client, path = agent_client(agent), f"/api/v1/agent/conversations/{conversation.pk}/transfer"
    if isinstance(body, str):
        answer = client.post(path, body, content_type="application/json")
    else:
        answer = client.post(path, body, format="json")
    assert answer.status_code in {400, 413}
    assert answer.json()["error"]["code"]
    assert Conversation.objects.get(pk=conversation.pk).assignee_id == conversation.assignee_id


def test_bad_tab_and_cursor_are_refused(agent):
    client = agent_client(agent)
    for query in ("tab=everything", "before=-3", f"before={2**70}", "limit=0", "limit=x"):
        answer = client.get(f"/api/v1/agent/conversations?{query}")
        assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid"


def test_an_enterprise_admin_sets_the_limits_and_a_raised_limit_takes_from_the_queue(enterprise, agent):
    admin = agent_create(
        enterprise=enterprise, username="boss", password=AGENT_PASSWORD, nickname="Boss", role=ROLE_ENTERPRISE_ADMIN
    )
    go_online(agent)
    enterprise.max_conversations_per_agent = 1
    enterprise.save()
    waiting_visitors(enterprise, 3)
    assert Conversation.objects.filter(status="waiting").count() == 2
    alice, boss = agent_client(agent), agent_client(admin)
    assert alice.get("/api/v1/agent/settings").json() == {
        "max_conversations_per_agent": 1,
        "auto_close_minutes": 30,
        "offline_text": enterprise.offline_text,
        "offline_text_en": "",
        "landing_domain": "",
    }
    refused = alice.patch("/api/v1/agent/settings", {"max_conversations_per_agent": 5}, format="json")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    changed = boss.patch(
        "/api/v1/agent/settings", {"max_conversations_per_agent": 2, "auto_close_minutes": 0}, format="json"
    )
    assert changed.json() == {
        "max_conversations_per_agent": 2,
        "auto_close_minutes": 0,
        "offline_text": "We are away.",
        "offline_text_en": "",
        "landing_domain": "",
    }
    assert Conversation.objects.filter(status="waiting").count() == 1  # Alice got one more at once
    assert alice.patch(f"/api/v1/agent/agents/{agent.pk}", {"max_conversations": 9}, format="json").status_code == 403
    own = boss.patch(f"/api/v1/agent/agents/{agent.pk}", {"max_conversations": 3}, format="json")
    assert own.json()["limit"] == 3
    assert Conversation.objects.filter(status="waiting").count() == 0
    back = boss.patch(f"/api/v1/agent/agents/{agent.pk}", {"max_conversations": None}, format="json")
    assert back.json()["limit"] == 2
    for body in (
        {"max_conversations_per_agent": -1},
        {"auto_close_minutes": "soon"},
        {"auto_close_minutes": 10**9},
        {"offline_text": "x" * 1001},
        {"offline_text_en": ["away"]},
    ):
        assert boss.patch("/api/v1/agent/settings", body, format="json").status_code == 400
    texts = {"offline_text": " 我们不在线 ", "offline_text_en": "Away; leave a message."}
    assert alice.patch("/api/v1/agent/settings", texts, format="json").status_code == 403
    assert boss.patch("/api/v1/agent/settings", texts, format="json").json()["offline_text"] == "我们不在线"
    enterprise.refresh_from_db()
    assert (enterprise.offline_text, enterprise.offline_text_en) == ("我们不在线", "Away; leave a message.")


def test_an_admin_cannot_set_another_enterprises_agent(enterprise, agent, other_agent):
    admin = agent_create(
        enterprise=enterprise, username="boss", password=AGENT_PASSWORD, nickname="Boss", role=ROLE_ENTERPRISE_ADMIN
    )
    answer = agent_client(admin).patch(
        f"/api/v1/agent/agents/{other_agent.pk}", {"max_conversations": 1}, format="json"
    )
    assert answer.status_code == 404
    other_agent.refresh_from_db()
    assert other_agent.max_conversations is None
