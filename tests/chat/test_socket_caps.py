"""Caps on the websockets one process keeps open per visitor, per agent and per client address: the next
socket is refused with an `error` frame and close code 4429, and a slot comes back when a socket closes."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async

from accounts.tokens import AgentRefreshToken
from chat.frames import CLOSE_TOO_MANY
from tests.chat.wsutil import agent_socket, connect_ready, recv, visitor_socket
from tests.conftest import login_visitor, said

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _small_caps(settings: Any) -> None:
    settings.GOFLY = {**settings.GOFLY, "SOCKETS_PER_VISITOR": 3, "SOCKETS_PER_AGENT": 2, "SOCKETS_PER_IP": 5}


async def refused(comm: Any) -> str:
    connected, _ = await comm.connect(timeout=5)
    assert connected
    frame = await recv(comm)
    assert frame["type"] == "error" and frame["data"]["code"] == "too_many_sockets"
    assert await comm.receive_output(timeout=3) == {"type": "websocket.close", "code": CLOSE_TOO_MANY}
    return str(frame["data"]["message"])


async def test_one_visitor_token_opens_only_so_many_sockets_and_a_closed_one_frees_its_slot(enterprise, agent):
    token = (await database_sync_to_async(login_visitor)(enterprise, agent)).token
    open_ = [visitor_socket(token) for _ in range(3)]
    for comm in open_:
        await connect_ready(comm)
    assert await refused(visitor_socket(token)) == said(
        "Too many chat windows are open; close one and this one reconnects."
    )
    # Another visitor from the same address is not this visitor's excess.
    other = visitor_socket((await database_sync_to_async(login_visitor)(enterprise, agent)).token)
    await connect_ready(other)
    await open_[0].disconnect()
    again = visitor_socket(token)
    await connect_ready(again)
    for comm in [*open_[1:], other, again]:
        await comm.disconnect()


async def test_an_agent_opens_only_so_many_sockets(agent):
    access = str(AgentRefreshToken.for_user(agent).access_token)
    first, second = agent_socket(jwt=access), agent_socket(jwt=access)
    await connect_ready(first)
    await connect_ready(second)
    await refused(agent_socket(jwt=access))
    await first.disconnect()
    third = agent_socket(jwt=access)
    await connect_ready(third)
    await second.disconnect()
    await third.disconnect()


async def test_one_address_opens_only_so_many_sockets_whoever_holds_them(enterprise, agent):
    tokens = [(await database_sync_to_async(login_visitor)(enterprise, agent)).token for _ in range(6)]
    opened = [visitor_socket(token, ip="2001:db8:7:7::1") for token in tokens[:5]]
    for comm in opened:
        await connect_ready(comm)
    # The sixth, from another host of the same /64: refused; from another network: welcome.
    refusal = await refused(visitor_socket(tokens[5], ip="2001:db8:7:7::99"))
    assert refusal == said("Too many connections from your network; try again later.")
    elsewhere = visitor_socket(tokens[5], ip="2001:db8:7:8::1")
    await connect_ready(elsewhere)
    for comm in [*opened, elsewhere]:
        await comm.disconnect()


async def test_refused_sockets_take_no_slot(enterprise, agent):
    token = (await database_sync_to_async(login_visitor)(enterprise, agent)).token
    kept = [visitor_socket(token) for _ in range(3)]
    for comm in kept:
        await connect_ready(comm)
    for _ in range(10):
        await refused(visitor_socket(token))
    await kept[0].disconnect()
    fourth = visitor_socket(token)
    await connect_ready(fourth)  # one slot freed, and the ten refusals did not take it
    for comm in [*kept[1:], fourth]:
        await comm.disconnect()
