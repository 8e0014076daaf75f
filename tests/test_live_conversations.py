"""Two real server processes on MariaDB + Redis: the queue, a take race, a transfer and a close, with the agents
and the visitor's sockets spread over both processes."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import Any

import httpx
import websockets
from asgiref.sync import sync_to_async

from chat.models import Conversation
from tests.conftest import AGENT_PASSWORD
from tests.servers import LIVE_ARTIFACTS, gofly_server, multinode_marks

pytestmark = multinode_marks()
ARTIFACTS = LIVE_ARTIFACTS
NOTE = "VIP, wants a refund"

Where = Callable[[dict[str, Any]], bool]


def anything(data: dict[str, Any]) -> bool:
    return True


class Peer:
    """One websocket and every frame it has received; `expect` takes the first one that matches, so frames
    of other kinds wait for their turn instead of being dropped."""

    def __init__(self, name: str, ws: Any) -> None:
        self.name = name
        self.ws = ws
        self.frames: list[dict[str, Any]] = []
        self.everything: list[dict[str, Any]] = []
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for raw in self.ws:
            frame = json.loads(raw)
            self.frames.append(frame)
            self.everything.append(frame)

    async def send(self, kind: str, data: dict[str, Any]) -> None:
        await self.ws.send(json.dumps({"type": kind, "data": data}))

    def _take(self, kinds: tuple[str, ...], where: Where) -> dict[str, Any] | None:
        for i, frame in enumerate(self.frames):
            if frame["type"] in kinds and where(frame.get("data") or {}):
                return self.frames.pop(i)
        return None

    async def expect_any(self, kinds: tuple[str, ...], where: Where = anything, timeout: float = 10) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            frame = self._take(kinds, where)
            if frame is not None:
                return frame
            if time.monotonic() > deadline:
                seen = [f["type"] for f in self.frames]
                raise AssertionError(f"{self.name}: no {kinds} frame in {timeout} s; waiting unread: {seen}")
            await asyncio.sleep(0.02)

    async def expect(self, kind: str, where: Where = anything, timeout: float = 10) -> dict[str, Any]:
        return dict((await self.expect_any((kind,), where, timeout))["data"])

    async def close(self) -> None:
        await self.ws.close()
        self.reader.cancel()


def ws_url(base: str, path: str) -> str:
    return base.replace("http://", "ws://") + path


async def connect(stack: AsyncExitStack, name: str, base: str, path: str) -> Peer:
    ws = await stack.enter_async_context(websockets.connect(ws_url(base, path)))
    peer = Peer(name, ws)
    stack.push_async_callback(peer.close)
    return peer


def about(conversation_id: int) -> Where:
    return lambda data: data["conversation"]["id"] == conversation_id


def timeline(code: str) -> Where:
    return lambda data: data["kind"] == "event" and data["content"] == code


def of_visitor(visitor_id: str) -> Where:
    return lambda data: data["conversation"]["visitor_id"] == visitor_id


async def test_the_queue_a_take_race_a_transfer_and_a_close_reach_every_socket_on_both_processes(
    enterprise: Any, agent: Any, second_agent: Any
) -> None:
    # Alice and Bob (both in the default agent role), each on a process of their own.
    node_1_server = gofly_server(log=ARTIFACTS / "conversations-node-1.log")
    node_2_server = gofly_server(log=ARTIFACTS / "conversations-node-2.log")
    with node_1_server as node_1, node_2_server as node_2:
        async with httpx.AsyncClient() as http:

            async def jwt(node: str, username: str) -> str:
                answer = await http.post(
                    f"{node}/api/v1/auth/token", json={"username": username, "password": AGENT_PASSWORD}
                )
                return str(answer.json()["access"])

            async def visitor_login(node: str) -> dict[str, Any]:
                return dict((await http.post(f"{node}/api/v1/visitor/login", json={"ent_id": enterprise.pk})).json())

            alice_jwt, bob_jwt = await jwt(node_1, agent.username), await jwt(node_2, second_agent.username)
            first, second = await visitor_login(node_1), await visitor_login(node_2)
        first_id, second_id = first["visitor"]["visitor_id"], second["visitor"]["visitor_id"]

        async with AsyncExitStack() as stack:
            alice = await connect(stack, "alice@1", node_1, f"/ws/agent?token={alice_jwt}")
            bob = await connect(stack, "bob@2", node_2, f"/ws/agent?token={bob_jwt}")
            agents = {"Alice": alice, "Bob": bob}
            for peer in (alice, bob):
                await peer.expect("ready")
                # Away: connected and hearing everything, but routing gives them nothing.
                await peer.send("status.set", {"status": "away", "ref": "away"})
                assert (await peer.expect("ok", lambda d: d["ref"] == "away"))["agent"]["chosen"] == "away"

            # The first visitor has a socket on each process (two tabs behind a balancer); the second on node 2.
            first_1 = await connect(stack, "first@1", node_1, f"/ws/visitor?token={first['token']}")
            first_2 = await connect(stack, "first@2", node_2, f"/ws/visitor?token={first['token']}")
            second_2 = await connect(stack, "second@2", node_2, f"/ws/visitor?token={second['token']}")
            first_sockets = (first_1, first_2)
            for peer in (first_1, first_2, second_2):
                ready = await peer.expect("ready")
                assert ready["conversation"] is None
                # Both agents are connected but away (Bob chose it on node 2): from either process, visitors
                # are told nobody takes new conversations, not that two agents are there to wait for.
                assert ready["agents_online"] == 0

            # --- with nobody to route to, a message waits in the queue, and everyone hears of it ---------
            await first_1.send("message.send", {"client_id": "q-1", "content": "Anyone there?"})
            await first_1.expect("message.ack")
            for peer in (alice, bob):
                updated = await peer.expect("conversation.updated", of_visitor(first_id))
                assert (updated["change"], updated["conversation"]["status"]) == ("opened", "waiting")
                assert updated["conversation"]["assignee"] is None
            conversation_id = updated["conversation"]["id"]
            for peer in first_sockets:
                mine = (await peer.expect("conversation"))["conversation"]
                assert mine == {
                    "id": conversation_id,
                    "status": "waiting",
                    "assignee": None,
                    "queue_position": 1,
                    "closed_by": None,
                }

            await second_2.send("message.send", {"client_id": "q-2", "content": "Me too"})
            assert (await second_2.expect("conversation"))["conversation"]["queue_position"] == 2
            for peer in (alice, bob):
                updated = await peer.expect("conversation.updated", of_visitor(second_id))
                assert updated["conversation"]["status"] == "waiting"

            # --- Alice (node 1) and Bob (node 2) take it at the same moment: exactly one wins ------------
            await asyncio.gather(
                alice.send("conversation.take", {"conversation_id": conversation_id, "ref": "take"}),
                bob.send("conversation.take", {"conversation_id": conversation_id, "ref": "take"}),
            )
            answers = {
                name: await peer.expect_any(("ok", "error"), lambda d: d.get("ref") == "take")
                for name, peer in agents.items()
            }
            won = [name for name, answer in answers.items() if answer["type"] == "ok"]
            assert len(won) == 1, answers
            winner_name = won[0]
            other_name = "Bob" if winner_name == "Alice" else "Alice"
            winner, other = agents[winner_name], agents[other_name]
            assert answers[winner_name]["data"]["conversation"]["assignee"]["name"] == winner_name
            assert answers[other_name]["data"]["code"] == "already_taken"
            for peer in (alice, bob):
                updated = await peer.expect("conversation.updated", about(conversation_id))
                assert (updated["change"], updated["conversation"]["assignee"]["name"]) == ("taken", winner_name)
            for peer in first_sockets:
                mine = (await peer.expect("conversation"))["conversation"]
                assert (mine["status"], mine["assignee"]["name"], mine["queue_position"]) == ("open", winner_name, None)
            # The second visitor moved up, told by whichever process served the take.
            moved = (await second_2.expect("conversation"))["conversation"]
            assert (moved["status"], moved["queue_position"]) == ("waiting", 1)

            # --- transfer to the other agent, with a note for them alone -------------------------------
            other_pk = agent.pk if other_name == "Alice" else second_agent.pk
            await winner.send(
                "conversation.transfer",
                {"conversation_id": conversation_id, "to_agent_id": other_pk, "note": NOTE, "ref": "transfer"},
            )
            done = await winner.expect("ok", lambda d: d["ref"] == "transfer")
            assert done["conversation"]["assignee"]["name"] == other_name
            handed = await other.expect("conversation.transferred")
            assert (handed["note"], handed["from"]["name"]) == (NOTE, winner_name)
            assert handed["conversation"]["id"] == conversation_id
            for peer in (alice, bob):
                updated = await peer.expect("conversation.updated", about(conversation_id))
                assert (updated["change"], updated["conversation"]["assignee"]["name"]) == ("transferred", other_name)
            for peer in first_sockets:
                mine = (await peer.expect("conversation"))["conversation"]
                assert (mine["status"], mine["assignee"]["name"]) == ("open", other_name)
                line = await peer.expect("message.new", timeline("transferred"))
                assert (line["meta"]["from"]["name"], line["meta"]["to"]["name"]) == (winner_name, other_name)

            # The next visitor message (from the socket on node 2) reaches the new assignee in this conversation.
            await first_2.send("message.send", {"client_id": "q-3", "content": "Where is my refund?"})
            got = await other.expect("message.new", lambda d: d["content"] == "Where is my refund?")
            assert (got["conversation_id"], got["visitor_id"]) == (conversation_id, first_id)

            # --- the assignee closes it: every socket hears it -----------------------------------------
            await other.send("conversation.close", {"conversation_id": conversation_id, "ref": "close"})
            assert (await other.expect("ok", lambda d: d["ref"] == "close"))["conversation"]["status"] == "closed"
            for peer in (alice, bob):
                updated = await peer.expect("conversation.updated", about(conversation_id))
                assert (updated["change"], updated["conversation"]["status"]) == ("closed", "closed")
                assert updated["conversation"]["closed_by"] == "agent"
            for peer in first_sockets:
                mine = (await peer.expect("conversation"))["conversation"]
                assert (mine["id"], mine["status"], mine["closed_by"]) == (conversation_id, "closed", "agent")
                line = await peer.expect("message.new", timeline("closed"))
                assert (line["meta"]["by"], line["meta"]["agent"]["name"]) == ("agent", other_name)

            # --- the visitor writes again: a new conversation, behind the second visitor ---------------
            await first_1.send("message.send", {"client_id": "q-4", "content": "One more thing"})
            for peer in first_sockets:
                again = (await peer.expect("conversation"))["conversation"]
                assert again["id"] != conversation_id
                assert (again["status"], again["queue_position"]) == ("waiting", 2)
            again_id = again["id"]
            for peer in (alice, bob):
                updated = await peer.expect("conversation.updated", about(again_id))
                assert (updated["change"], updated["conversation"]["status"]) == ("opened", "waiting")

            # --- and ends it themselves, from node 2 ---------------------------------------------------
            await first_2.send("conversation.close", {"ref": "bye"})
            ended = (await first_2.expect("ok", lambda d: d["ref"] == "bye"))["conversation"]
            assert (ended["id"], ended["status"], ended["closed_by"]) == (again_id, "closed", "visitor")
            for peer in (alice, bob):
                updated = await peer.expect("conversation.updated", about(again_id))
                assert (updated["change"], updated["conversation"]["closed_by"]) == ("closed", "visitor")
            for peer in first_sockets:
                mine = (await peer.expect("conversation", about(again_id)))["conversation"]
                assert mine["status"] == "closed"

            # The note went to the new assignee alone: never to the visitor, nor to the colleague.
            for peer in (first_1, first_2, second_2, winner):
                assert NOTE not in json.dumps(peer.everything, ensure_ascii=False), peer.name

    rows = await sync_to_async(
        lambda: list(
            Conversation.objects.filter(visitor__visitor_id=first_id)
            .order_by("pk")
            .values_list("pk", "status", "closed_by", "assignee__nickname")
        )
    )()
    assert rows == [(conversation_id, "closed", "agent", other_name), (again_id, "closed", "visitor", None)]
