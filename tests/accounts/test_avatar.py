"""Avatar URLs: one rule for agents and visitors, enforced on the model and on every payload."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.core.exceptions import ValidationError
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import DEFAULT_AGENT_AVATAR, User
from accounts.selectors import agent_payload
from accounts.tokens import AgentAccessToken
from chat import frames
from chat.models import Visitor
from chat.services import message_create
from core.safety import avatar_url_safe
from tests.chat.wsutil import agent_socket, connect_ready, visitor_socket
from tests.conftest import login_visitor

pytestmark = pytest.mark.django_db

UNSAFE = [
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    " javascript:alert(1)",
    "data:image/svg+xml,<svg onload=alert(1)>",
    "vbscript:x",
    "//evil.example/a.png",
    'https://a.example/x.png" onerror="alert(1)',
    "https://a.example/x.png onerror=alert(1)",
    "https://a.example/<script>",
    "/static/../admin/",
    "/etc/passwd",
    "https://" + "a" * 300,
]
SAFE = [
    "https://cdn.example.com/a.png?x=1&y=2",
    "http://a.example/b.jpg",
    "/static/img/agent.svg",
    "/media/avatars/1.png",
]


@pytest.mark.parametrize("value", UNSAFE)
def test_an_unsafe_avatar_url_is_refused_by_the_shared_rule_and_the_model(value, agent):
    assert not avatar_url_safe(value)
    agent.avatar = value
    with pytest.raises(ValidationError) as err:
        agent.full_clean()
    assert "avatar" in err.value.message_dict


@pytest.mark.parametrize("value", SAFE)
def test_http_urls_and_our_own_paths_are_accepted(value, agent):
    assert avatar_url_safe(value)
    agent.avatar = value
    agent.full_clean()


@pytest.mark.django_db(transaction=True)  # visitor login runs its database work on another thread
def test_an_unsafe_stored_agent_avatar_is_never_emitted(enterprise, agent):
    # A row written past the validator (a script, a row from before it).
    User.objects.filter(pk=agent.pk).update(avatar="javascript:alert(1)")
    agent.refresh_from_db()
    assert agent_payload(agent)["avatar"] == DEFAULT_AGENT_AVATAR

    visitor = login_visitor(enterprise, agent).visitor
    message = message_create(visitor=visitor, sender="agent", agent=agent, content="hi", client_id="a-1")[0]
    assert frames.message_payload(message, visitor.visitor_id)["agent"]["avatar"] == DEFAULT_AGENT_AVATAR

    login = APIClient().post("/api/v1/visitor/login", {"ent_id": enterprise.pk, "kefu_id": "kefu2"}, format="json")
    assert login.status_code == 200, login.json()
    assert login.json()["agent"]["avatar"] == DEFAULT_AGENT_AVATAR

    console = Client()
    console.force_login(agent)
    assert "javascript:" not in console.get("/console").content.decode()


def test_a_visitor_avatar_follows_the_same_rule(enterprise, agent):
    refused = login_visitor(enterprise, agent, avatar="javascript:alert(1)").visitor
    assert not refused.avatar.startswith("javascript")
    kept = login_visitor(enterprise, agent, avatar="/media/v/1.png").visitor
    assert kept.avatar == "/media/v/1.png"


@pytest.mark.django_db(transaction=True)
async def test_an_unsafe_stored_visitor_avatar_is_never_emitted(enterprise, agent):
    result = await database_sync_to_async(login_visitor)(enterprise, agent)
    await Visitor.objects.filter(pk=result.visitor.pk).aupdate(avatar="javascript:alert(1)")

    visitor_ws = visitor_socket(result.token)
    assert (await connect_ready(visitor_ws))["visitor"]["avatar"] == ""
    agent_ws = agent_socket(jwt=str(AgentAccessToken.for_user(agent)))
    assert [v["avatar"] for v in (await connect_ready(agent_ws))["visitors"]] == [""]
    await visitor_ws.disconnect()
    await agent_ws.disconnect()

    def relogin() -> dict:
        body = {"ent_id": enterprise.pk, "token": result.token}
        return APIClient().post("/api/v1/visitor/login", body, format="json").json()

    assert (await database_sync_to_async(relogin)())["visitor"]["avatar"] == ""
