"""Login lock-out and revocation across two real server processes sharing MariaDB and Redis."""

from __future__ import annotations

import json

import httpx
import pytest
import websockets
from asgiref.sync import sync_to_async

from accounts.models import User
from tests.conftest import AGENT_PASSWORD
from tests.servers import LIVE_ARTIFACTS, gofly_server, multinode_marks

from .test_live_multinode import next_frame, ws_url

pytestmark = multinode_marks()
ARTIFACTS = LIVE_ARTIFACTS


async def test_wrong_passwords_on_two_nodes_add_up_to_one_lock_out(agent):
    env = {"GOFLY_LOGIN_FAILURES": "4"}
    with gofly_server(env=env, log=ARTIFACTS / "auth-a.log") as node_a, gofly_server(env=env) as node_b:
        async with httpx.AsyncClient() as http:

            async def login(node: str, password: str) -> httpx.Response:
                return await http.post(f"{node}/api/v1/auth/token", json={"username": "kefu2", "password": password})

            assert [(await login(node, "wrong")).status_code for node in (node_a, node_b, node_a)] == [401] * 3
            fourth = await login(node_b, "wrong")
            assert fourth.status_code == 429 and fourth.json()["error"]["code"] == "locked_out"
            right = await login(node_a, AGENT_PASSWORD)
            assert right.status_code == 429 and int(right.headers["Retry-After"]) == 900


async def test_a_password_change_closes_the_agents_socket_on_another_node(agent):
    with gofly_server(log=ARTIFACTS / "revoke-a.log") as node_a, gofly_server() as node_b:
        async with httpx.AsyncClient() as http:
            tokens = (
                await http.post(f"{node_a}/api/v1/auth/token", json={"username": "kefu2", "password": AGENT_PASSWORD})
            ).json()
        async with websockets.connect(ws_url(node_b, f"/ws/agent?token={tokens['access']}")) as agent_ws:
            await next_frame(agent_ws, "ready")

            def change_password() -> None:
                user = User.objects.get(pk=agent.pk)
                user.set_password("a-new-pass-456")
                user.save()

            await sync_to_async(change_password)()  # neither node: a third process, as an admin's would be
            error = await next_frame(agent_ws, "error")
            assert error["code"] == "unauthenticated"
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await agent_ws.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
        async with httpx.AsyncClient() as http:
            me = await http.get(f"{node_b}/api/v1/agent/me", headers={"Authorization": f"Bearer {tokens['access']}"})
            assert me.status_code == 401
            refresh = await http.post(f"{node_a}/api/v1/auth/token/refresh", json={"refresh": tokens["refresh"]})
            assert refresh.status_code == 401


async def test_suspending_an_enterprise_closes_its_sockets_on_every_node(agent, enterprise):
    with gofly_server(log=ARTIFACTS / "suspend-a.log") as node_a, gofly_server() as node_b:
        async with httpx.AsyncClient() as http:
            tokens = (
                await http.post(f"{node_a}/api/v1/auth/token", json={"username": "kefu2", "password": AGENT_PASSWORD})
            ).json()
            visitor = (
                await http.post(f"{node_b}/api/v1/visitor/login", json={"ent_id": enterprise.pk, "kefu_id": "kefu2"})
            ).json()
        async with (
            websockets.connect(ws_url(node_b, f"/ws/agent?token={tokens['access']}")) as agent_ws,
            websockets.connect(ws_url(node_a, f"/ws/visitor?token={visitor['token']}")) as visitor_ws,
        ):
            await next_frame(agent_ws, "ready")
            await next_frame(visitor_ws, "ready")

            def suspend() -> None:
                enterprise.is_active = False
                enterprise.save()

            await sync_to_async(suspend)()  # neither node: a third process, as a superadmin's in /admin
            for ws in (agent_ws, visitor_ws):
                assert (await next_frame(ws, "error"))["code"] == "unauthenticated"
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    while True:
                        await ws.recv()
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
        async with httpx.AsyncClient() as http:
            me = await http.get(f"{node_a}/api/v1/agent/me", headers={"Authorization": f"Bearer {tokens['access']}"})
            assert me.status_code == 401


async def test_one_visitor_token_opens_only_so_many_sockets_on_a_real_server(agent, enterprise):
    with gofly_server(env={"GOFLY_SOCKETS_PER_VISITOR": "5"}) as node:
        async with httpx.AsyncClient() as http:
            login = await http.post(f"{node}/api/v1/visitor/login", json={"ent_id": enterprise.pk})
        url = ws_url(node, f"/ws/visitor?token={login.json()['token']}")
        sockets = [await websockets.connect(url) for _ in range(30)]
        try:
            outcomes = []
            for ws in sockets:
                frame = json.loads(await ws.recv())
                outcomes.append(frame["type"] if frame["type"] == "ready" else frame["data"]["code"])
            assert outcomes == ["ready"] * 5 + ["too_many_sockets"] * 25
            for ws in sockets[5:]:
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    await ws.recv()
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 4429
        finally:
            for ws in sockets:
                await ws.close()
