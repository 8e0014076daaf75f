"""A visitor's session: an open page swaps its token for a fresh one and so is never logged out, a refused
token is refused (the page then says so), an idle socket outlives every server-side timeout, and a
conversation closed for inactivity leaves the visitor able to start the next one."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta
from typing import Any
from unittest import mock

import httpx
import pytest
import websockets
from asgiref.sync import sync_to_async
from django.conf import settings
from django.utils import timezone
from rest_framework.test import APIClient

from chat import services
from chat.models import Conversation, Visitor
from tests.conftest import AGENT_PASSWORD, login_visitor
from tests.servers import LIVE_ARTIFACTS, gofly_server

from .test_api import visitor_client
from .test_conversations import write
from .wsutil import connect_ready, recv_type, send, visitor_socket

DAY = 86400.0


class Clock:
    """What django.core.signing reads as the time (and nothing else): tokens are issued and checked at it."""

    def __init__(self) -> None:
        self.now = time.time()

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Any:
    fake = Clock()
    with mock.patch("django.core.signing.time", fake):
        yield fake


@pytest.mark.django_db(transaction=True)
def test_an_open_page_swaps_its_token_for_a_fresh_one_that_outlives_the_first(enterprise: Any, clock: Clock) -> None:
    login = login_visitor(enterprise)
    write(login.visitor, "hello")
    assert settings.GOFLY["VISITOR_TOKEN_MAX_AGE"] == 30 * DAY
    clock.now += 29 * DAY
    fresh = visitor_client(login.token).post("/api/v1/visitor/token")
    assert fresh.status_code == 200
    token = fresh.json()["token"]
    assert token != login.token
    clock.now += 2 * DAY  # 31 days after the first token, 2 after the fresh one
    assert visitor_client(login.token).get("/api/v1/visitor/messages").status_code == 401
    history = visitor_client(token).get("/api/v1/visitor/messages")
    assert history.status_code == 200
    assert [m["content"] for m in history.json()["messages"]] == ["hello"]  # the same visitor, thread and all


@pytest.mark.django_db(transaction=True)
def test_a_refused_token_is_not_refreshed_and_a_login_with_it_is_a_new_visitor(enterprise: Any, clock: Clock) -> None:
    login = login_visitor(enterprise)
    clock.now += 31 * DAY
    expired = visitor_client(login.token).post("/api/v1/visitor/token")
    assert expired.status_code == 401
    assert expired.json()["error"]["code"] == "authentication_failed"
    # Logging in with it makes someone new: `created` is how the page knows to say the session expired.
    again = login_visitor(enterprise, token=login.token)
    assert again.created is True and again.visitor.pk != login.visitor.pk
    # A visitor deleted since: the token is refused too.
    Visitor.objects.filter(pk=again.visitor.pk).delete()
    gone = visitor_client(again.token).post("/api/v1/visitor/token")
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"
    assert APIClient().post("/api/v1/visitor/token").status_code == 401


@pytest.mark.django_db(transaction=True)
async def test_a_conversation_closed_for_inactivity_is_announced_and_the_next_message_opens_a_new_one(
    enterprise: Any,
) -> None:
    login = await sync_to_async(login_visitor)(enterprise)
    comm = visitor_socket(login.token)
    await connect_ready(comm)
    await send(comm, "message.send", {"client_id": "c-1", "content": "anyone there?"})
    first = (await recv_type(comm, "conversation"))["conversation"]
    assert first["status"] == "waiting"
    later = timezone.now() + timedelta(minutes=enterprise.auto_close_minutes + 1)
    assert await sync_to_async(services.conversations_close_idle)(now=later) == 1
    closed = (await recv_type(comm, "conversation"))["conversation"]
    assert (closed["id"], closed["status"], closed["closed_by"]) == (first["id"], "closed", "system")
    await send(comm, "message.send", {"client_id": "c-2", "content": "hello again"})
    second = (await recv_type(comm, "conversation"))["conversation"]
    assert second["id"] != first["id"] and second["status"] == "waiting"
    await comm.disconnect()
    statuses = await sync_to_async(lambda: list(Conversation.objects.order_by("pk").values_list("status", flat=True)))()
    assert statuses == ["closed", "waiting"]


# Longer than every server-side timeout an idle visitor socket meets: presence expiry (GOFLY_PRESENCE_TTL, 3 s
# here, refreshed by the server's own heartbeat) and daphne's ping (sent after 20 s without a frame; the
# socket is closed if no pong comes within 30 s more: 50 s). Browsers answer pings by themselves.
IDLE_SECONDS = 56


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_an_idle_visitor_socket_stays_open_and_online_past_every_server_timeout(enterprise: Any, agent: Any) -> None:
    LIVE_ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with gofly_server(log=LIVE_ARTIFACTS / "idle-visitor.log") as base:
        http = httpx.Client(base_url=base, timeout=10)
        token = http.post("/api/v1/visitor/login", json={"ent_id": str(enterprise.pk)}).json()["token"]
        access = http.post("/api/v1/auth/token", json={"username": agent.username, "password": AGENT_PASSWORD})
        agent_http = httpx.Client(
            base_url=base, timeout=10, headers={"Authorization": f"Bearer {access.json()['access']}"}
        )

        def online() -> set[str]:
            return {v["visitor_id"] for v in agent_http.get("/api/v1/agent/visitors?online=1").json()["visitors"]}

        async def scenario() -> None:
            url = base.replace("http://", "ws://") + f"/ws/visitor?token={token}"
            # Like a browser: no pings of its own (they would count as activity), but it answers the server's.
            async with websockets.connect(url, ping_interval=None) as ws:
                ready = json.loads(await ws.recv())
                assert ready["type"] == "ready"
                visitor_id = ready["data"]["visitor"]["visitor_id"]
                started = time.monotonic()
                while time.monotonic() - started < IDLE_SECONDS:
                    await asyncio.sleep(4)
                    assert visitor_id in await asyncio.to_thread(online), "the idle visitor went offline"
                # Still open, and still delivered to.
                sent = await asyncio.to_thread(
                    agent_http.post,
                    f"/api/v1/agent/visitors/{visitor_id}/messages",
                    json={"client_id": "a-1", "content": "still there?"},
                )
                assert sent.status_code == 201
                while True:
                    frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
                    if frame["type"] == "message.new" and frame["data"]["kind"] == "text":
                        assert frame["data"]["content"] == "still there?"
                        break

        asyncio.run(scenario())
        http.close()
        agent_http.close()
