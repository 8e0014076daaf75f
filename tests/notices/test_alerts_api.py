"""The e-mail alert setting through the agent API: own setting, the team's for admins, bad input."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts.models import User
from accounts.permissions import ROLE_ENTERPRISE_ADMIN
from accounts.services import agent_create
from chat.services import message_create
from notices.models import AgentAlerts
from tests.conftest import AGENT_PASSWORD, login_visitor

pytestmark = pytest.mark.django_db


def client_for(user: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_an_agent_reads_and_sets_their_alerts(agent: User, settings: Any) -> None:
    settings.EMAIL_HOST = ""
    client = client_for(agent)
    got = client.get("/api/v1/agent/alerts").json()
    assert got["email_enabled"] is False and got["mail_configured"] is False
    refused = client.patch("/api/v1/agent/alerts", {"email_enabled": True}, format="json")
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "no_email"
    done = client.patch(
        "/api/v1/agent/alerts", {"email_enabled": True, "email": "a@example.com", "language": "en"}, format="json"
    )
    assert done.status_code == 200, done.json()
    assert done.json()["email_enabled"] is True and done.json()["email"] == "a@example.com"
    assert User.objects.get(pk=agent.pk).email == "a@example.com"
    row = AgentAlerts.objects.get(agent=agent)
    assert row.enterprise_id == agent.enterprise_id and row.language == "en"
    off = client.patch("/api/v1/agent/alerts", {"email_enabled": False}, format="json")
    assert off.json()["email_enabled"] is False


def test_turning_alerts_on_starts_after_the_newest_message(enterprise: Any, agent: User) -> None:
    visitor = login_visitor(enterprise, agent).visitor
    message, _ = message_create(visitor=visitor, sender="visitor", content="old", client_id="c1")
    client_for(agent).patch("/api/v1/agent/alerts", {"email_enabled": True, "email": "a@example.com"}, format="json")
    assert AgentAlerts.objects.get(agent=agent).alerted_up_to == message.pk


@pytest.mark.parametrize(
    "body",
    [
        {"email_enabled": "yes"},
        {"email_enabled": 1},
        {"email": "not an address"},
        {"email": "x" * 300 + "@example.com"},
        {"email": 12},
        {"language": "fr"},
        {"language": ["en"]},
        {"colour": "red"},
        ["email_enabled"],
        '{"email": "a\\ud800@example.com"}',
        '{"email_enabled": true, "email": "\\ud800"}',
        "not json",
    ],
)
def test_bad_input_gets_a_clear_400(agent: User, body: Any) -> None:
    raw = body if isinstance(body, str) else json.dumps(body)
    response = client_for(agent).generic("PATCH", "/api/v1/agent/alerts", raw, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"]
    assert not AgentAlerts.objects.filter(agent=agent, email_enabled=True).exists()


def test_anonymous_callers_are_refused() -> None:
    assert APIClient().get("/api/v1/agent/alerts").status_code == 401


def test_enterprise_admins_see_their_teams_alerts_in_two_queries(
    enterprise: Any, agent: User, second_agent: User, other_agent: User
) -> None:
    client_for(second_agent).patch(
        "/api/v1/agent/alerts", {"email_enabled": True, "email": "bob@example.com"}, format="json"
    )
    for n in range(3):
        agent_create(enterprise=enterprise, username=f"extra{n}", password=AGENT_PASSWORD)
    boss = agent_create(enterprise=enterprise, username="boss", password=AGENT_PASSWORD, role=ROLE_ENTERPRISE_ADMIN)
    admin = client_for(boss)
    admin.get("/api/v1/agent/alerts/team")  # warm the permission cache
    with CaptureQueriesContext(connection) as queries:
        response = admin.get("/api/v1/agent/alerts/team")
    assert response.status_code == 200
    agents = {a["username"]: a for a in response.json()["agents"]}
    assert agents["kefu3"]["email_enabled"] is True and agents["kefu3"]["email"] == "bob@example.com"
    assert "globex1" not in agents  # another enterprise's agent never shows
    assert len(queries) <= 4, [q["sql"] for q in queries.captured_queries]


def test_agents_without_manage_agents_cannot_see_the_team(second_agent: User) -> None:
    response = client_for(second_agent).get("/api/v1/agent/alerts/team")
    assert response.status_code == 403
