"""Visitors are told how many agents take new conversations: an agent on "away" (or "offline" by choice)
is online for colleagues but no one for a visitor to wait for, so with only away agents the login, the
widget and the socket say nobody is there and the chat offers to leave a message."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.test import Client

from accounts.models import User
from chat import frames
from chat.realtime.presence import AGENT, Presence, get_presence
from chat.services import agent_status_set
from tests.conftest import login_visitor

from .wsutil import connect_ready, visitor_socket

pytestmark = pytest.mark.django_db(transaction=True)


def online(agent: User) -> None:
    async_to_sync(get_presence().join)(Presence(agent.enterprise_id or 0, AGENT, agent.pk, f"test.{agent.pk}"))


def widget(enterprise: Any, agent: User) -> dict[str, Any]:
    response = Client().get(
        f"/api/v1/widget?ent_id={enterprise.pk}&kefu_id={agent.username}", HTTP_ORIGIN="https://shop.example.com"
    )
    assert response.status_code == 200
    body = response.json()
    return {"online": body["online"], "agents_online": body["agents_online"], "agent": body["agent"]["online"]}


def login_answer(enterprise: Any, agent: User) -> dict[str, Any]:
    response = Client().post(
        "/api/v1/visitor/login",
        {"ent_id": str(enterprise.pk), "kefu_id": agent.username},
        content_type="application/json",
    )
    assert response.status_code == 200
    return response.json()


def test_the_only_agent_away_is_nobody_to_visitors_and_back_online_is_someone_again(enterprise, agent):
    online(agent)
    assert login_answer(enterprise, agent)["agents_online"] == 1
    assert widget(enterprise, agent) == {"online": True, "agents_online": 1, "agent": True}

    agent_status_set(agent=agent, status="away")
    assert login_answer(enterprise, agent)["agents_online"] == 0
    assert widget(enterprise, agent) == {"online": False, "agents_online": 0, "agent": False}

    agent_status_set(agent=agent, status="online")
    assert login_answer(enterprise, agent)["agents_online"] == 1
    assert widget(enterprise, agent) == {"online": True, "agents_online": 1, "agent": True}


def test_a_status_change_tells_the_enterprises_visitors_how_many_agents_serve(
    enterprise, agent, second_agent, published
):
    online(agent)
    online(second_agent)
    agent_status_set(agent=agent, status="away")
    agent_status_set(agent=second_agent, status="offline")
    agent_status_set(agent=agent, status="online")
    told = [
        f["data"]["online"] for g, f in published if g == frames.group_visitors(enterprise.pk) and f["type"] == "agents"
    ]
    assert told == [1, 0, 1]


async def test_a_visitor_socket_opening_while_the_agent_is_away_hears_nobody_is_there(enterprise, agent):
    from channels.db import database_sync_to_async

    await get_presence().join(Presence(enterprise.pk, AGENT, agent.pk, f"test.{agent.pk}"))
    await database_sync_to_async(agent_status_set)(agent=agent, status="away")
    result = await database_sync_to_async(login_visitor)(enterprise, agent)
    comm = visitor_socket(result.token)
    try:
        ready = await connect_ready(comm)
        assert ready["agents_online"] == 0
    finally:
        await comm.disconnect()
