"""Presence and typing: hints with nothing to store, published at once."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from accounts.models import User
from core import health

from .. import frames
from ..models import Visitor
from ..realtime.presence import AGENT, VISITOR
from .agents import agent_presence_changed, agents_serving

# --- presence and typing: hints with nothing to store, published at once ------------------------------


async def _hint(items: list[tuple[str, dict[str, Any]]]) -> None:
    """Publish frames that the next `ready` or list refresh would correct anyway: a failure is only noted."""
    layer = get_channel_layer()
    assert layer is not None
    try:
        for group, frame_ in items:
            await layer.group_send(group, frames.event(frame_))
    except health.INFRASTRUCTURE_ERRORS as exc:
        health.failed(health.LAYER, exc)


async def visitor_came_online(*, visitor: Visitor, summary: dict[str, Any]) -> None:
    await _hint([(frames.group_agents(visitor.enterprise_id), frames.visitor_online_frame(summary))])


async def visitors_went_offline(*, gone: list[tuple[int, str]]) -> None:
    """(enterprise id, public visitor id) of visitors whose last socket closed or stopped beating."""
    await _hint([(frames.group_agents(ent), frames.visitor_offline_frame(public_id)) for ent, public_id in gone])


async def agents_online_announce(*, enterprise_id: int) -> None:
    """Tell the enterprise's visitors how many agents take new conversations (agents_serving)."""
    count = len(await agents_serving(enterprise_id))
    await _hint([(frames.group_visitors(enterprise_id), frames.agents_online_frame(count))])


async def visitor_typing(*, visitor: Visitor, draft: str) -> None:
    await _hint(
        [(frames.group_agents(visitor.enterprise_id), frames.typing_from_visitor_frame(visitor.visitor_id, draft))]
    )


async def agent_typing(*, agent: User, visitor: Visitor) -> None:
    await _hint([(frames.group_visitor(visitor.pk), frames.typing_from_agent_frame(visitor.visitor_id, agent))])


async def presence_expired(gone: list[tuple[int, str, int]]) -> None:
    """chat.hooks.presence_gone: owners whose every process stopped beating (chat.realtime.heartbeat):
    visitors reported offline to agents, agents to their colleagues and to visitors."""
    if not gone:
        return
    visitor_pks = [pk for _ent, kind, pk in gone if kind == VISITOR]
    public_ids = dict(
        await database_sync_to_async(
            lambda: list(Visitor.objects.filter(pk__in=visitor_pks).values_list("pk", "visitor_id"))
        )()
    )
    await visitors_went_offline(
        gone=[(ent, public_ids[pk]) for ent, kind, pk in gone if kind == VISITOR and pk in public_ids]
    )
    agent_pks = [pk for _ent, kind, pk in gone if kind == AGENT]
    if agent_pks:
        agents = await database_sync_to_async(
            lambda: list(User.objects.filter(pk__in=agent_pks).select_related("enterprise"))
        )()
        for agent in agents:
            await database_sync_to_async(agent_presence_changed)(agent=agent, online=False)
        for enterprise_id in {ent for ent, kind, _pk in gone if kind == AGENT}:
            await agents_online_announce(enterprise_id=enterprise_id)
