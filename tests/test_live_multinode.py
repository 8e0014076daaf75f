"""Two real server processes on MariaDB + Redis: a visitor on one and an agent on the other chat as if on one."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import websockets
from asgiref.sync import sync_to_async
from django.db import connection

from tests.conftest import AGENT_PASSWORD
from tests.servers import LIVE_ARTIFACTS, ROOT, database_url, free_port, gofly_server, multinode_marks

pytestmark = multinode_marks()
ARTIFACTS = LIVE_ARTIFACTS


async def next_frame(ws: Any, kind: str, timeout: float = 10) -> dict[str, Any]:
    async def wait() -> dict[str, Any]:
        while True:
            frame = json.loads(await ws.recv())
            if frame["type"] == kind:
                return frame["data"]

    return await asyncio.wait_for(wait(), timeout)


def ws_url(base: str, path: str) -> str:
    return base.replace("http://", "ws://") + path


async def test_a_visitor_on_one_node_and_an_agent_on_another_chat_both_ways(enterprise, agent):
    # Node A runs daphne, node B uvicorn: the two servers GoFly offers, side by side in one cluster.
    node_a_server = gofly_server(log=ARTIFACTS / "node-a.log")
    node_b_server = gofly_server(log=ARTIFACTS / "node-b.log", server="uvicorn")
    with node_a_server as node_a, node_b_server as node_b:
        async with httpx.AsyncClient() as http:
            login = (
                await http.post(f"{node_a}/api/v1/visitor/login", json={"ent_id": enterprise.pk, "kefu_id": "kefu2"})
            ).json()
            jwt = (
                await http.post(f"{node_b}/api/v1/auth/token", json={"username": "kefu2", "password": AGENT_PASSWORD})
            ).json()["access"]
        async with websockets.connect(ws_url(node_b, f"/ws/agent?token={jwt}")) as agent_ws:
            await next_frame(agent_ws, "ready")
            async with websockets.connect(ws_url(node_a, f"/ws/visitor?token={login['token']}")) as visitor_ws:
                ready = await next_frame(visitor_ws, "ready")
                assert ready["agents_online"] == 1  # the agent's presence on node B is seen from node A
                online = await next_frame(agent_ws, "visitor.online")
                assert online["visitor_id"] == login["visitor"]["visitor_id"]

                await visitor_ws.send(
                    json.dumps({"type": "message.send", "data": {"client_id": "v1", "content": "from node A"}})
                )
                ack = await next_frame(visitor_ws, "message.ack")
                got = await next_frame(agent_ws, "message.new")
                assert (got["id"], got["content"]) == (ack["id"], "from node A")

                reply = {"client_id": "a1", "visitor_id": login["visitor"]["visitor_id"], "content": "from node B"}
                await agent_ws.send(json.dumps({"type": "message.send", "data": reply}))
                ack = await next_frame(agent_ws, "message.ack")
                got = await next_frame(visitor_ws, "message.new")
                while got["sender"] != "agent":
                    got = await next_frame(visitor_ws, "message.new")
                assert (got["id"], got["content"]) == (ack["id"], "from node B")
            offline = await next_frame(agent_ws, "visitor.offline")
            assert offline["visitor_id"] == login["visitor"]["visitor_id"]
    # daphne runs Twisted on uvloop (manage.py): less CPU per message than asyncio's own loop.
    assert "GoFly (daphne, uvloop) on http://" in (ARTIFACTS / "node-a.log").read_text()


async def test_a_visitor_whose_node_dies_goes_offline_for_agents_elsewhere(enterprise, agent):
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url(), "GOFLY_HEARTBEAT": "1", "GOFLY_PRESENCE_TTL": "3"}
    log = open(ARTIFACTS / "doomed-node.log", "wb")
    doomed = subprocess.Popen(
        [sys.executable, "manage.py", "server", "-p", str(port)], cwd=Path(ROOT), env=env, stdout=log, stderr=log
    )
    try:
        node_a = f"http://127.0.0.1:{port}"
        with gofly_server(log=ARTIFACTS / "survivor.log") as node_b:
            async with httpx.AsyncClient() as http:
                for _ in range(100):
                    try:
                        login = (
                            await http.post(f"{node_a}/api/v1/visitor/login", json={"ent_id": enterprise.pk})
                        ).json()
                        break
                    except httpx.TransportError:
                        await asyncio.sleep(0.1)
                jwt = (
                    await http.post(
                        f"{node_b}/api/v1/auth/token", json={"username": "kefu2", "password": AGENT_PASSWORD}
                    )
                ).json()["access"]
            async with websockets.connect(ws_url(node_b, f"/ws/agent?token={jwt}")) as agent_ws:
                await next_frame(agent_ws, "ready")
                visitor_ws = await websockets.connect(ws_url(node_a, f"/ws/visitor?token={login['token']}"))
                await next_frame(visitor_ws, "ready")
                await next_frame(agent_ws, "visitor.online")
                doomed.send_signal(signal.SIGKILL)  # no goodbye: only the missing heartbeats tell
                doomed.wait()
                offline = await next_frame(agent_ws, "visitor.offline", timeout=15)
                assert offline["visitor_id"] == login["visitor"]["visitor_id"]
                async with httpx.AsyncClient() as http:
                    listed = (
                        await http.get(
                            f"{node_b}/api/v1/agent/visitors?online=1", headers={"Authorization": f"Bearer {jwt}"}
                        )
                    ).json()
                assert listed["visitors"] == []
    finally:
        if doomed.poll() is None:
            doomed.kill()
        log.close()


async def test_sync_requests_do_not_leave_a_database_connection_behind_each(enterprise, agent):
    """Under ASGI each sync request runs in a thread of its own; its connection must close with it."""

    def connected() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SHOW STATUS LIKE 'Threads_connected'")
            return int(cursor.fetchone()[1])

    with gofly_server(log=ARTIFACTS / "connections.log") as node:
        async with httpx.AsyncClient() as http:
            jwt = (
                await http.post(f"{node}/api/v1/auth/token", json={"username": "kefu2", "password": AGENT_PASSWORD})
            ).json()["access"]
            headers = {"Authorization": f"Bearer {jwt}"}
            before = await sync_to_async(connected)()
            for _ in range(5):
                answers = await asyncio.gather(
                    *[http.get(f"{node}/api/v1/agent/visitors", headers=headers) for _ in range(20)]
                )
                assert all(a.status_code == 200 for a in answers)
            await asyncio.sleep(0.5)
            # 100 requests; without closing, each left its connection open until the garbage collector ran.
            assert await sync_to_async(connected)() - before <= 10
