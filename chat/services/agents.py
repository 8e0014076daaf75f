"""The agents' side of routing: their status (online, away, offline) and presence, their limits, and the
enterprise's routing settings."""

from __future__ import annotations

import time
from typing import Any

from channels.db import database_sync_to_async
from django.db import DatabaseError, transaction
from django.utils.translation import gettext as _

from accounts import permissions
from accounts.models import AgentStatus, User
from core.errors import ChatError
from enterprises.audit import audit_record
from enterprises.models import AuditAction, Enterprise

from .. import frames
from ..access import access_colleague
from ..realtime.broadcast import publish_on_commit
from ..realtime.presence import AGENT, online_now, online_or_nobody
from ..selectors import open_loads
from .routing import queue_offer

# --- agents' status --------------------------------------------------------------------------------


def agent_status_publish(*, agent: User, online: bool | None = None) -> dict[str, Any]:
    """Tell the enterprise's agents how `agent` stands (chosen status, online, load); the payload."""
    enterprise_id = agent.enterprise_id or 0
    if online is None:
        online = agent.pk in online_now(enterprise_id, AGENT)
    payload = frames.agent_status_payload(agent, online=online, load=open_loads([agent.pk]).get(agent.pk, 0))
    publish_on_commit([(frames.group_agents(enterprise_id), frames.agent_status_frame(payload))])
    return payload


def agent_status_set(*, agent: User, status: object) -> dict[str, Any]:
    """The agent chooses online, away or offline; an agent coming online is offered the queue, and the
    enterprise's visitors hear how many agents now take new conversations."""
    if status not in AgentStatus.values:
        raise ChatError("bad_status", _("Status must be online, away or offline."))
    enterprise_id = agent.enterprise_id or 0
    with transaction.atomic():
        User.objects.filter(pk=agent.pk).update(status=status)
        agent.status = str(status)
        payload = agent_status_publish(agent=agent)
        _not_serving_cache.pop(enterprise_id, None)
        serving = len(agents_serving_now(enterprise_id))
        publish_on_commit([(frames.group_visitors(enterprise_id), frames.agents_online_frame(serving))])
        transaction.on_commit(lambda: _not_serving_cache.pop(enterprise_id, None))
    if status == AgentStatus.ONLINE and agent.enterprise is not None:
        queue_offer(enterprise=agent.enterprise)
    return payload


def agent_presence_changed(*, agent: User, online: bool) -> None:
    """The agent's first socket opened or last one closed (on whichever process): tell colleagues, and
    offer the queue to an agent who came online."""
    agent_status_publish(agent=agent, online=online)
    if online and agent.status == AgentStatus.ONLINE and agent.enterprise is not None:
        queue_offer(enterprise=agent.enterprise)


# --- who takes new conversations: what visitors are told ------------------------------------------

# Seconds a process trusts its list of an enterprise's agents who chose away or offline: visitors arriving
# by the thousand must not cost a query each, and a status changed on another process shows within it.
_NOT_SERVING_FOR = 2.0
_not_serving_cache: dict[int, tuple[float, frozenset[int]]] = {}


def _not_serving(enterprise_id: int) -> frozenset[int]:
    now = time.monotonic()
    held = _not_serving_cache.get(enterprise_id)
    if held is not None and held[0] > now:
        return held[1]
    chosen = User.objects.filter(enterprise_id=enterprise_id).exclude(status=AgentStatus.ONLINE)
    pks = frozenset(chosen.values_list("pk", flat=True))
    _not_serving_cache[enterprise_id] = (now + _NOT_SERVING_FOR, pks)
    return pks


def agents_serving_now(enterprise_id: int) -> set[int]:
    """The enterprise's agents who take new conversations: online (a socket open) and not away or offline
    by choice. Visitors are told how many (`agents_online`): an away agent is no one to wait for, so with
    nobody serving they are offered to leave a message instead of a queue nobody serves."""
    online = online_now(enterprise_id, AGENT)
    return online - _not_serving(enterprise_id) if online else online


async def agents_serving(enterprise_id: int) -> set[int]:
    """agents_serving_now for the event loop: no thread hop while the statuses are fresh; with the database
    away, the online agents (as good a guess as there is)."""
    online = await online_or_nobody(enterprise_id, AGENT)
    if not online:
        return online
    held = _not_serving_cache.get(enterprise_id)
    if held is not None and held[0] > time.monotonic():
        return online - held[1]
    try:
        return online - await database_sync_to_async(_not_serving)(enterprise_id)
    except DatabaseError:
        return online


# --- routing settings ------------------------------------------------------------------------------

_LIMIT_MAX = 1000
_AUTO_CLOSE_MAX = 60 * 24 * 30  # a month, in minutes


def _bounded(value: object, name: str, maximum: int, *, allow_none: bool = False) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise ChatError(
            "invalid", _("%(name)s must be a whole number from 0 to %(max)d.") % {"name": name, "max": maximum}
        )
    return value


OFFLINE_TEXT_MAX = 1000


def routing_settings(enterprise: Enterprise) -> dict[str, Any]:
    return {
        "max_conversations_per_agent": enterprise.max_conversations_per_agent,
        "auto_close_minutes": enterprise.auto_close_minutes,
        "offline_text": enterprise.offline_text,
        "offline_text_en": enterprise.offline_text_en,
    }


def _offline_text(value: object, name: str) -> str:
    if not isinstance(value, str) or len(value) > OFFLINE_TEXT_MAX:
        raise ChatError(
            "invalid",
            _("%(name)s must be a text of at most %(max)d characters.") % {"name": name, "max": OFFLINE_TEXT_MAX},
        )
    return value.strip()


def routing_settings_update(
    *,
    agent: User,
    max_conversations_per_agent: object = None,
    auto_close_minutes: object = None,
    offline_text: object = None,
    offline_text_en: object = None,
) -> dict[str, Any]:
    """An enterprise admin sets the agents' default limit, the inactivity time and what visitors read while
    nobody serves (in Chinese and English); a raised limit is offered the queue at once."""
    permissions.require(agent, permissions.MANAGE_SETTINGS)
    with transaction.atomic():
        enterprise = Enterprise.objects.select_for_update().get(pk=agent.enterprise_id or 0)
        if max_conversations_per_agent is not None:
            enterprise.max_conversations_per_agent = (
                _bounded(max_conversations_per_agent, "max_conversations_per_agent", _LIMIT_MAX) or 0
            )
        if auto_close_minutes is not None:
            enterprise.auto_close_minutes = _bounded(auto_close_minutes, "auto_close_minutes", _AUTO_CLOSE_MAX) or 0
        if offline_text is not None:
            enterprise.offline_text = _offline_text(offline_text, "offline_text")
        if offline_text_en is not None:
            enterprise.offline_text_en = _offline_text(offline_text_en, "offline_text_en")
        enterprise.save(update_fields=list(routing_settings(enterprise)))
        audit_record(
            action=AuditAction.SETTINGS_CHANGED,
            actor=agent,
            target_type="enterprise",
            target_id=enterprise.pk,
            target_name=enterprise.name,
            details=routing_settings(enterprise),
        )
    queue_offer(enterprise=enterprise)
    return routing_settings(enterprise)


def agent_limit_set(*, agent: User, agent_id: object, max_conversations: object) -> dict[str, Any]:
    """An enterprise admin gives a colleague their own limit (None: the enterprise's); their status again."""
    permissions.require(agent, permissions.MANAGE_AGENTS)
    limit = _bounded(max_conversations, "max_conversations", _LIMIT_MAX, allow_none=True)
    with transaction.atomic():
        colleague = access_colleague(agent=agent, agent_id=agent_id)
        User.objects.filter(pk=colleague.pk).update(max_conversations=limit)
        colleague.max_conversations = limit
        payload = agent_status_publish(agent=colleague)
        audit_record(
            action=AuditAction.AGENT_CHANGED,
            actor=agent,
            target_type="agent",
            target_id=colleague.pk,
            target_name=colleague.display_name,
            details={"max_conversations": limit},
        )
    if colleague.enterprise is not None:
        queue_offer(enterprise=colleague.enterprise)
    return payload
