"""Blacklists on the visitor socket: a connected visitor is closed with 4403 the moment they are blocked
(by id or by address), cannot reconnect, and comes back after an unblock or once the block expires."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from blacklist.services import blacklist_remove, ip_block, visitor_block
from chat.frames import CLOSE_FORBIDDEN
from chat.models import VisitorBlock
from enterprises.models import IPBlacklist
from tests.chat.wsutil import connect_ready, recv, recv_type, visitor_socket
from tests.conftest import login_visitor

pytestmark = pytest.mark.django_db(transaction=True)


async def login(enterprise: Any, agent: Any, **kw: Any) -> Any:
    return await database_sync_to_async(login_visitor)(enterprise, agent, **kw)


async def closed_forbidden(ws: Any) -> None:
    error = await recv_type(ws, "error")
    assert error["code"] == "blacklisted"
    assert (await ws.receive_output(timeout=3))["code"] == CLOSE_FORBIDDEN


async def refused(token: str, ip: str = "203.0.113.7") -> None:
    ws = visitor_socket(token, ip=ip)
    await ws.connect()
    assert (await recv(ws))["data"]["code"] == "blacklisted"
    assert (await ws.receive_output())["code"] == CLOSE_FORBIDDEN


async def test_a_connected_visitor_blocked_by_id_is_closed_and_stays_out_until_unblocked(enterprise, agent):
    result = await login(enterprise, agent)
    ws = visitor_socket(result.token)
    await connect_ready(ws)
    await database_sync_to_async(visitor_block)(agent=agent, visitor_id=result.visitor.visitor_id, reason="spam")
    await closed_forbidden(ws)
    await refused(result.token)
    await database_sync_to_async(blacklist_remove)(agent=agent, kind="visitor", entry_id=result.visitor.visitor_id)
    again = visitor_socket(result.token)
    await connect_ready(again)
    await again.disconnect()


async def test_an_address_block_closes_the_visitors_on_it_and_no_one_else(enterprise, agent):
    blocked = await login(enterprise, agent, ip="203.0.113.7")
    spared = await login(enterprise, agent, ip="192.0.2.50")
    ws_blocked = visitor_socket(blocked.token, ip="203.0.113.7")
    ws_spared = visitor_socket(spared.token, ip="192.0.2.50")
    await connect_ready(ws_blocked)
    await connect_ready(ws_spared)
    await database_sync_to_async(visitor_block)(agent=agent, visitor_id=blocked.visitor.visitor_id, what="network")
    await closed_forbidden(ws_blocked)
    assert await ws_spared.receive_nothing(timeout=0.3)
    await refused(blocked.token, ip="203.0.113.99")  # the /24
    await ws_spared.disconnect()


async def test_an_ipv6_address_block_closes_an_ipv6_visitor(enterprise, agent):
    result = await login(enterprise, agent, ip="2001:db8::7")
    ws = visitor_socket(result.token, ip="2001:db8::7")
    await connect_ready(ws)
    await database_sync_to_async(ip_block)(agent=agent, network="2001:db8::/32")
    await closed_forbidden(ws)


async def test_another_enterprises_block_of_the_same_address_closes_nobody_here(enterprise, agent, other_agent):
    result = await login(enterprise, agent)
    ws = visitor_socket(result.token)
    await connect_ready(ws)
    await database_sync_to_async(ip_block)(agent=other_agent, network="203.0.113.7")
    assert await ws.receive_nothing(timeout=0.3)
    await ws.disconnect()


async def test_a_visitor_comes_back_once_the_block_expires(enterprise, agent):
    result = await login(enterprise, agent)
    await database_sync_to_async(visitor_block)(agent=agent, visitor_id=result.visitor.visitor_id, until="1h")
    await database_sync_to_async(ip_block)(agent=agent, network="203.0.113.0/24", until="1d")
    await refused(result.token)
    past = timezone.now() - timedelta(seconds=1)
    await database_sync_to_async(VisitorBlock.objects.update)(expires_at=past)
    await refused(result.token)  # the address block still holds
    await database_sync_to_async(IPBlacklist.objects.update)(expires_at=past)
    ws = visitor_socket(result.token)
    await connect_ready(ws)
    await ws.disconnect()


def test_the_connect_check_costs_no_query_of_its_own(enterprise, agent):
    """The visitor block is a JOIN of the visitor's query; the address check is the batch's one range
    query, which exists already (blocks or not)."""
    from chat.selectors import SocketLookup, visitors_for_sockets

    result = login_visitor(enterprise, agent)
    lookup = SocketLookup(result.visitor.pk, enterprise.pk, "203.0.113.7")
    visitors_for_sockets([lookup])
    with CaptureQueriesContext(connection) as before:
        visitors_for_sockets([lookup])
    ip_block(agent=agent, network="10.0.0.0/16")
    visitor_block(agent=agent, visitor_id=login_visitor(enterprise, agent).visitor.visitor_id)
    with CaptureQueriesContext(connection) as after:
        visitors_for_sockets([lookup])
    assert len(after) == len(before) <= 4
    assert any("visitorblock" in q["sql"].lower() for q in before)  # joined, not queried apart
