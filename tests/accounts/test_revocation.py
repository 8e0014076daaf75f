"""A password change or deactivation ends the user's tokens, console sessions and open agent sockets."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import User
from accounts.services import roles_ensure, superadmin_create
from accounts.tokens import AgentRefreshToken
from chat.frames import CLOSE_UNAUTHENTICATED
from tests.chat.wsutil import agent_socket, connect_ready, recv
from tests.conftest import AGENT_PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def tokens_for(password: str = AGENT_PASSWORD, username: str = "kefu2") -> dict[str, str]:
    response = APIClient().post("/api/v1/auth/token", {"username": username, "password": password}, format="json")
    assert response.status_code == 200
    return response.json()


def me(access: str) -> Any:
    return APIClient(HTTP_AUTHORIZATION=f"Bearer {access}").get("/api/v1/agent/me")


def refresh(token: str) -> Any:
    return APIClient().post("/api/v1/auth/token/refresh", {"refresh": token}, format="json")


def change_password(user: User, password: str = "a-new-pass-456") -> None:
    user.set_password(password)
    user.save()


def test_a_password_change_ends_the_old_access_and_refresh_tokens(agent):
    old = tokens_for()
    assert me(old["access"]).status_code == 200
    assert refresh(old["refresh"]).status_code == 200

    change_password(User.objects.get(pk=agent.pk))

    for response in (me(old["access"]), refresh(old["refresh"])):
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "token_not_valid"
    # Tokens obtained with the new password work.
    new = tokens_for("a-new-pass-456")
    assert me(new["access"]).status_code == 200
    assert me(refresh(new["refresh"]).json()["access"]).status_code == 200


def test_an_access_token_refreshed_before_the_change_dies_with_it(agent):
    old = tokens_for()
    access = refresh(old["refresh"]).json()["access"]
    change_password(User.objects.get(pk=agent.pk))
    assert me(access).status_code == 401


def test_deactivation_ends_the_tokens_and_reactivation_does_not_revive_them(agent):
    old = tokens_for()
    agent.is_active = False
    agent.save()
    assert me(old["access"]).status_code == 401
    assert refresh(old["refresh"]).status_code == 401
    agent.is_active = True
    agent.save()
    assert me(old["access"]).status_code == 401
    assert refresh(old["refresh"]).status_code == 401


def test_a_token_without_the_credentials_claim_is_refused(agent):
    token = AgentRefreshToken.for_user(agent)
    del token["cv"]
    assert refresh(str(token)).status_code == 401
    assert me(str(token.access_token)).status_code == 401


def test_saving_other_fields_keeps_the_tokens_and_costs_no_extra_query(agent, django_assert_num_queries):
    old = tokens_for()
    agent.nickname = "Alicia"
    with django_assert_num_queries(1):
        agent.save(update_fields=["nickname"])
    agent.save()  # a full save with the same password and flag
    assert me(old["access"]).status_code == 200


def console_client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    assert client.get("/console").status_code == 200
    return client


def test_set_password_and_save_ends_the_console_session(agent):
    client = console_client(agent)
    change_password(User.objects.get(pk=agent.pk))
    response = client.get("/console")
    assert response.status_code == 302 and response["Location"].startswith("/login")


def test_a_password_change_by_an_admin_ends_the_agents_console_session(agent):
    agent_client = console_client(agent)
    roles_ensure()
    superadmin_create(username="root", password=AGENT_PASSWORD)
    admin = Client()
    admin.force_login(User.objects.get(username="root"))
    response = admin.post(
        f"/admin/accounts/user/{agent.pk}/password/",
        {"password1": "Another-pass-789", "password2": "Another-pass-789"},
    )
    assert response.status_code == 302, response.content[:2000]
    assert agent_client.get("/console").status_code == 302
    assert admin.get("/admin/").status_code == 200  # the admin's own session is untouched


def test_deactivation_in_the_admin_ends_the_console_session(agent):
    agent_client = console_client(agent)
    agent.is_active = False
    agent.save()
    assert agent_client.get("/console").status_code == 302


async def expect_revoked_close(comm: Any) -> None:
    frame = await recv(comm)
    while frame["type"] == "agent.status":  # its own arrival, told to the enterprise's agents
        frame = await recv(comm)
    assert frame["type"] == "error" and frame["data"]["code"] == "unauthenticated"
    closed = await comm.receive_output(timeout=3)
    assert closed == {"type": "websocket.close", "code": CLOSE_UNAUTHENTICATED}


async def test_an_open_agent_socket_is_closed_with_4401_after_a_password_change(agent):
    access = (await database_sync_to_async(tokens_for)())["access"]
    comm = agent_socket(jwt=access)
    await connect_ready(comm)

    await database_sync_to_async(lambda: change_password(User.objects.get(pk=agent.pk)))()

    await expect_revoked_close(comm)
    # The old token cannot open a new socket either.
    again = agent_socket(jwt=access)
    connected, _ = await again.connect(timeout=5)
    assert connected
    assert (await recv(again))["data"]["code"] == "unauthenticated"


async def test_a_console_socket_is_closed_with_4401_after_deactivation(agent, settings):
    client = await database_sync_to_async(console_client)(agent)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    comm = agent_socket(cookie=cookie, origin="http://testserver")
    await connect_ready(comm)

    def deactivate() -> None:
        agent.is_active = False
        agent.save()

    await database_sync_to_async(deactivate)()
    await expect_revoked_close(comm)


async def test_only_the_changed_agents_sockets_are_closed(agent, second_agent):
    alice = agent_socket(jwt=(await database_sync_to_async(tokens_for)())["access"])
    await connect_ready(alice)
    bob = agent_socket(jwt=(await database_sync_to_async(tokens_for)(username="kefu3"))["access"])
    await connect_ready(bob)

    await database_sync_to_async(lambda: change_password(User.objects.get(pk=second_agent.pk)))()
    await expect_revoked_close(bob)
    # Alice hears that Bob went offline, and nothing else: her socket stays open.
    while not await alice.receive_nothing(timeout=0.3):
        assert (await recv(alice))["type"] == "agent.status"
    await alice.disconnect()
