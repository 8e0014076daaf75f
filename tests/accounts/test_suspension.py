"""A suspended enterprise (Enterprise.is_active off): its agents can neither log in nor use a session, a
token or a socket they already had, its visitors are shut out the same way, and all of it comes back as it
was when the enterprise is reactivated. Other enterprises and superadmins are untouched."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.test import Client
from rest_framework.test import APIClient

from accounts.services import roles_ensure, superadmin_create
from chat.frames import CLOSE_UNAUTHENTICATED
from enterprises.models import Enterprise
from tests.chat.wsutil import agent_socket, connect_ready, recv, visitor_socket
from tests.conftest import AGENT_PASSWORD, login_visitor, said

pytestmark = pytest.mark.django_db(transaction=True)


def suspend(enterprise: Enterprise, active: bool = False) -> None:
    enterprise.is_active = active
    enterprise.save()


def tokens_for(username: str = "kefu2") -> Any:
    return APIClient().post("/api/v1/auth/token", {"username": username, "password": AGENT_PASSWORD}, format="json")


def me(access: str) -> Any:
    return APIClient(HTTP_AUTHORIZATION=f"Bearer {access}").get("/api/v1/agent/me")


def test_a_suspended_enterprises_agents_cannot_log_in_anywhere(agent, enterprise, other_agent):
    suspend(enterprise)
    assert tokens_for().status_code == 401
    console = Client(HTTP_ACCEPT_LANGUAGE="en")
    assert console.post("/login", {"username": "kefu2", "password": AGENT_PASSWORD}).status_code == 200
    assert "_auth_user_id" not in console.session
    # Another enterprise's agent, and a superadmin, log in as before.
    assert tokens_for("globex1").status_code == 200
    roles_ensure()
    superadmin_create(username="root", password=AGENT_PASSWORD)
    assert Client().post("/admin/login/", {"username": "root", "password": AGENT_PASSWORD}).status_code == 302


def test_sessions_and_tokens_of_a_suspended_enterprise_stop_working_and_come_back_with_it(agent, enterprise):
    tokens = tokens_for().json()
    console = Client()
    console.force_login(agent)
    assert console.get("/console").status_code == 200

    suspend(enterprise)
    assert console.get("/console").status_code == 302
    assert console.get("/api/v1/agent/me").status_code in (401, 403)
    assert me(tokens["access"]).status_code == 401
    assert (
        APIClient().post("/api/v1/auth/token/refresh", {"refresh": tokens["refresh"]}, format="json").status_code == 401
    )

    suspend(enterprise, active=True)  # a suspension is not a deletion
    assert console.get("/console").status_code == 200
    assert me(tokens["access"]).status_code == 200


def test_a_suspended_enterprises_visitors_are_shut_out(enterprise, agent):
    visitor = login_visitor(enterprise, agent)
    api = APIClient(HTTP_AUTHORIZATION=f"Visitor {visitor.token}")
    assert api.get("/api/v1/visitor/messages").status_code == 200
    suspend(enterprise)
    assert api.get("/api/v1/visitor/messages").status_code == 404
    assert api.post("/api/v1/visitor/token").status_code == 404
    login = APIClient().post("/api/v1/visitor/login", {"ent_id": enterprise.pk, "token": visitor.token}, format="json")
    assert login.status_code == 404


async def test_suspending_closes_the_enterprises_agent_and_visitor_sockets(agent, enterprise, other_agent):
    access = (await database_sync_to_async(tokens_for)()).json()["access"]
    alice = agent_socket(jwt=access)
    await connect_ready(alice)
    other = agent_socket(jwt=(await database_sync_to_async(tokens_for)("globex1")).json()["access"])
    await connect_ready(other)
    visitor = visitor_socket((await database_sync_to_async(login_visitor)(enterprise, agent)).token)
    await connect_ready(visitor)

    await database_sync_to_async(suspend)(enterprise)

    frame = await recv(alice)
    while frame["type"] != "error":  # presence chatter first
        frame = await recv(alice)
    assert frame["data"]["code"] == "unauthenticated"
    assert frame["data"]["message"] == said(
        "Your enterprise's account is suspended; contact the platform's administrator."
    )
    assert await alice.receive_output(timeout=3) == {"type": "websocket.close", "code": CLOSE_UNAUTHENTICATED}
    frame = await recv(visitor)
    while frame["type"] != "error":
        frame = await recv(visitor)
    assert frame["data"]["code"] == "unauthenticated"
    assert await visitor.receive_output(timeout=3) == {"type": "websocket.close", "code": CLOSE_UNAUTHENTICATED}
    # The old JWT opens no new socket; another enterprise's socket stays open.
    again = agent_socket(jwt=access)
    await again.connect(timeout=5)
    assert (await recv(again))["data"]["code"] == "unauthenticated"
    while not await other.receive_nothing(timeout=0.3):  # only its own arrival's presence chatter
        assert (await recv(other))["type"] == "agent.status"
    await other.disconnect()
