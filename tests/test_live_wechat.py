"""Two real server processes on MariaDB + Redis: a follower's message WeChat posts to one reaches an agent's
console on the other."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import websockets
from django.urls import reverse

from tests.conftest import AGENT_PASSWORD
from tests.servers import LIVE_ARTIFACTS, gofly_server, multinode_marks
from tests.wechat import fakeserver as fw
from tests.wechat.conftest import fake_wechat, wechat_account, wechat_boss, wechat_keys  # noqa: F401 - fixtures

pytestmark = multinode_marks()


async def next_frame(ws: Any, kind: str, timeout: float = 10) -> dict[str, Any]:
    async def wait() -> dict[str, Any]:
        while True:
            frame = json.loads(await ws.recv())
            if frame["type"] == kind and not (kind == "message.new" and frame["data"].get("kind") == "event"):
                return frame["data"]

    return await asyncio.wait_for(wait(), timeout)


async def test_a_followers_message_posted_to_one_node_reaches_an_agent_on_another(
    enterprise,
    agent,
    wechat_keys,  # noqa: F811 - the fixtures imported above
    fake_wechat,  # noqa: F811
    wechat_account,  # noqa: F811
):
    env = {"GOFLY_WECHAT_API_BASE": fake_wechat.api_base, "GOFLY_WECHAT_TIMEOUT": "2"}
    path = reverse("wechat_callback", kwargs={"callback_key": wechat_account.callback_key})
    openid = fake_wechat.add_follower(nickname="阿美")
    with (
        gofly_server(env=env, log=LIVE_ARTIFACTS / "wechat-a.log") as node_a,
        gofly_server(env=env, log=LIVE_ARTIFACTS / "wechat-b.log", server="uvicorn") as node_b,
    ):
        async with httpx.AsyncClient() as http:
            jwt = (
                await http.post(f"{node_b}/api/v1/auth/token", json={"username": "kefu2", "password": AGENT_PASSWORD})
            ).json()["access"]
        async with websockets.connect(node_b.replace("http://", "ws://") + f"/ws/agent?token={jwt}") as agent_ws:
            await next_frame(agent_ws, "ready")
            xml = fw.text_xml(to=fake_wechat.account.original_id, openid=openid, content="两台机器")
            status, body = await asyncio.to_thread(fake_wechat.deliver, node_a + path, xml, "safe")
            assert (status, body) == (200, b"success")
            frame = await next_frame(agent_ws, "message.new")
            assert frame["content"] == "两台机器" and frame["sender"] == "visitor"
