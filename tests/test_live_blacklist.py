"""Two real server processes on MariaDB + Redis: a block written through process 1 closes the visitor's
socket on process 2 at once (by visitor id, then by address), and an unblock lets them back in."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from typing import Any

import httpx

from tests.conftest import AGENT_PASSWORD
from tests.servers import LIVE_ARTIFACTS, gofly_server, multinode_marks
from tests.test_live_conversations import Peer, connect

pytestmark = multinode_marks()


async def closed_with(peer: Peer, code: int) -> None:
    error = await peer.expect("error")
    assert error["code"] == "blacklisted"
    await asyncio.wait([peer.reader], timeout=10)
    assert peer.ws.close_code == code


async def test_a_block_written_on_one_process_closes_the_visitor_on_the_other(enterprise: Any, agent: Any) -> None:
    node_1_server = gofly_server(log=LIVE_ARTIFACTS / "blacklist-node-1.log")
    node_2_server = gofly_server(log=LIVE_ARTIFACTS / "blacklist-node-2.log")
    with node_1_server as node_1, node_2_server as node_2:
        async with httpx.AsyncClient() as http:
            token = (
                await http.post(
                    f"{node_1}/api/v1/auth/token", json={"username": agent.username, "password": AGENT_PASSWORD}
                )
            ).json()["access"]
            auth = {"Authorization": f"Bearer {token}"}
            login = (await http.post(f"{node_2}/api/v1/visitor/login", json={"ent_id": enterprise.pk})).json()
            other = (await http.post(f"{node_2}/api/v1/visitor/login", json={"ent_id": enterprise.pk})).json()
            visitor_id = login["visitor"]["visitor_id"]
            path = f"/ws/visitor?token={login['token']}"

            async with AsyncExitStack() as stack:
                # --- by visitor id: only that visitor goes -------------------------------------------
                visitor = await connect(stack, "visitor@2", node_2, path)
                bystander = await connect(stack, "other@2", node_2, f"/ws/visitor?token={other['token']}")
                await visitor.expect("ready")
                await bystander.expect("ready")
                answer = await http.post(
                    f"{node_1}/api/v1/agent/blacklist",
                    json={"visitor_id": visitor_id, "reason": "abuse", "until": "1h"},
                    headers=auth,
                )
                assert answer.status_code == 201
                await closed_with(visitor, 4403)
                again = await connect(stack, "again@2", node_2, path)
                await closed_with(again, 4403)
                assert not [f for f in bystander.frames if f["type"] == "error"]

                removed = await http.delete(f"{node_1}/api/v1/agent/blacklist/visitor/{visitor_id}", headers=auth)
                assert removed.status_code == 204
                back = await connect(stack, "back@2", node_2, path)
                await back.expect("ready")

                # --- by address: every visitor of the enterprise on it goes ----------------------------
                answer = await http.post(
                    f"{node_1}/api/v1/agent/blacklist", json={"network": "127.0.0.0/16"}, headers=auth
                )
                assert answer.status_code == 201
                await closed_with(back, 4403)
                await closed_with(bystander, 4403)
                removed = await http.delete(f"{node_1}/api/v1/agent/blacklist/ip/{answer.json()['id']}", headers=auth)
                assert removed.status_code == 204
                final = await connect(stack, "final@2", node_2, path)
                await final.expect("ready")
