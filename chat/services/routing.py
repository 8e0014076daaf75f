"""The conversation services: opening and routing, the queue, take, transfer, close, reopen, clearing a
visitor's history, and the agents' status. Each one checks the caller's permission, writes in one
transaction and publishes its events after the commit (chat.realtime.broadcast).

A new conversation waits behind those already in the enterprise's queue; with nobody waiting, routing
gives it to the agent the visitor asked for (kefu_id) if they are online and under their limit, else to
the online agent with the fewest open conversations (ties: the one who waited longest since their last),
else it waits, oldest first, until an agent takes it or a slot frees up. An agent row is locked while
conversations are given to it, so that two processes cannot both fill its last slot.
"""

from __future__ import annotations

from collections import defaultdict
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import AgentStatus, User
from core.errors import ChatError
from core.savepoints import nested_savepoint
from enterprises.models import Enterprise

from .. import frames
from ..models import Conversation, Visitor
from ..realtime.presence import AGENT, online_now
from ..selectors import open_loads
from .timeline import Changes, Status, conversation_remember, queue_of, timeline_line

_OFFER_MAX = 200  # waiting conversations handed out by one offer; the next slot that frees takes more
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# --- routing ---------------------------------------------------------------------------------------


@dataclass
class _Candidate:
    agent: User
    load: int
    limit: int

    def has_room(self) -> bool:
        return self.limit == 0 or self.load < self.limit


def _candidates(enterprise: Enterprise, *, lock: bool = True, online: set[int] | None = None) -> dict[int, _Candidate]:
    """The agents routing may give conversations to now (online, status online), their rows locked for the
    caller's transaction; without `lock`, a plain read in one query, to learn whether anyone has room.
    `online`: the enterprise's online agents, if the caller has just read them."""
    if online is None:
        online = online_now(enterprise.pk, AGENT)
    if not online:
        return {}
    agents_of = User.objects.filter(
        enterprise_id=enterprise.pk, pk__in=online, is_active=True, status=AgentStatus.ONLINE
    ).order_by("pk")
    if lock:
        agents = list(agents_of.select_for_update())
        loads = open_loads([agent.pk for agent in agents])
    else:
        agents = list(agents_of.annotate(load=Count("conversations", filter=Q(conversations__status=Status.OPEN))))
        loads = {agent.pk: agent.load for agent in agents}  # type: ignore[attr-defined]
    for agent in agents:
        agent.enterprise = enterprise
    return {agent.pk: _Candidate(agent, loads.get(agent.pk, 0), agent.conversation_limit()) for agent in agents}


def _pick(candidates: dict[int, _Candidate], preferred: int | None) -> _Candidate | None:
    wanted = candidates.get(preferred) if preferred is not None else None
    if wanted is not None and wanted.has_room():
        return wanted
    free = [candidate for candidate in candidates.values() if candidate.has_room()]
    if not free:
        return None
    return min(free, key=lambda c: (c.load, c.agent.last_assigned_at or _EPOCH, c.agent.pk))


def agent_lock_with_room(agent: User) -> None:
    """Lock the agent's row and refuse if they already have as many open conversations as they may.

    Agent rows are locked before conversation rows everywhere (routing, the queue, take, transfer,
    reopen), so that two of these never wait for each other. The row alone: a join would lock the
    enterprise's row too, and with it every other agent's assignment.
    """
    own = User.objects.select_for_update().filter(pk=agent.pk).values_list("max_conversations", flat=True).get()
    limit = own if own is not None else agent.conversation_limit()
    if limit and open_loads([agent.pk]).get(agent.pk, 0) >= limit:
        raise ChatError(
            "over_limit",
            _("%(name)s already has %(limit)d open conversations.") % {"name": agent.display_name, "limit": limit},
            409,
        )


# --- opening ---------------------------------------------------------------------------------------


def conversations_open(
    *, visitors: list[Visitor], agent: User | None = None, events: list[tuple[str, dict[str, Any]]] | None = None
) -> dict[int, Conversation]:
    """A live conversation for each of `visitors` (each has none as far as its caller knows); by visitor pk.

    Without `agent` they are routed (a visitor wrote); with one they open assigned to that agent, who
    wrote to the visitor. A visitor whose conversation another process opened a moment earlier gets that
    one. The visitors' enterprise should be loaded. With `events`, what there is to announce is added
    to it (the caller publishes it with its own, after its commit) instead of published here.
    """
    now = timezone.now()
    result: dict[int, Conversation] = {}
    by_enterprise: dict[int, list[Visitor]] = defaultdict(list)
    for visitor in visitors:
        by_enterprise[visitor.enterprise_id].append(visitor)
    # While people wait in the queue, a newcomer waits behind them: the queue is given out oldest first
    # whenever an agent has room (queue_offer). Only with nobody waiting is the team read, and agent rows
    # are locked only when a plain read says someone has room. So under load (a full team, a queue) a new
    # conversation costs a count of the queue and an INSERT, outside a transaction.
    waiting = {ent: queue_of(ent).count() if agent is None else 0 for ent in by_enterprise}
    online = {ent: online_now(ent, AGENT) if agent is None and not waiting[ent] else set() for ent in by_enterprise}
    routable = {
        ent: bool(online[ent])
        and any(c.has_room() for c in _candidates(group[0].enterprise, lock=False, online=online[ent]).values())
        for ent, group in by_enterprise.items()
    }
    with transaction.atomic() if any(routable.values()) else nullcontext():
        changes = Changes(waiting)
        assigned_agents: set[int] = set()
        for ent, visitors_of in by_enterprise.items():
            candidates = _candidates(visitors_of[0].enterprise, online=online[ent]) if routable[ent] else {}
            fresh = [_conversation_new(visitor, agent, candidates, now, assigned_agents) for visitor in visitors_of]
            for conversation, ours in _conversations_insert(fresh):
                result[conversation.visitor.pk] = conversation
                if ours:  # one opened elsewhere meanwhile was announced there
                    # No timeline line: the conversation's first message starts it, and its row says
                    # whom it was given to. Lines mark what changes afterwards.
                    changes.add(conversation, "opened", None)
        if assigned_agents and agent is None:
            User.objects.filter(pk__in=assigned_agents).update(last_assigned_at=now)
        changes.publish(into=events)
    for visitor in visitors:
        conversation_remember(visitor, result.get(visitor.pk))
    return result


def _conversation_new(
    visitor: Visitor, agent: User | None, candidates: dict[int, _Candidate], now: datetime, assigned: set[int]
) -> Conversation:
    """An unsaved conversation for `visitor`: assigned to `agent` (who wrote), or routed to a candidate with
    room (whose load counts it), or waiting; `assigned` collects the agents given one."""
    conversation = Conversation(
        enterprise_id=visitor.enterprise_id,
        visitor=visitor,
        open_visitor_id=visitor.pk,  # not open_visitor=: that would cache it on `visitor` now
        channel=visitor.channel,
        status=Status.WAITING,
        last_activity_at=now,
    )
    pick = agent
    if pick is None:
        candidate = _pick(candidates, visitor.agent_id)
        if candidate is not None:
            candidate.load += 1
            candidate.agent.last_assigned_at = now
            pick = candidate.agent
    if pick is not None:
        conversation.status = Status.OPEN
        conversation.assignee = pick
        conversation.assigned_at = now
        assigned.add(pick.pk)
    if agent is not None:  # opened by the agent's message: its first reply
        conversation.first_reply_at = now
    return conversation


def _conversations_insert(fresh: list[Conversation]) -> list[tuple[Conversation, bool]]:
    """INSERT them (one statement where the database returns ids): (conversation, True) for each; a visitor
    who got a live conversation on another process meanwhile gets (that one, False)."""
    connection = transaction.get_connection()
    if len(fresh) > 1 and connection.features.can_return_rows_from_bulk_insert:
        try:
            with nested_savepoint():
                return [(conversation, True) for conversation in Conversation.objects.bulk_create(fresh)]
        except IntegrityError:
            for conversation in fresh:
                conversation.pk = None
                conversation._state.adding = True
    stored = []
    for conversation in fresh:
        try:
            with nested_savepoint():
                conversation.save(force_insert=True)
        except IntegrityError:
            existing = (
                Conversation.objects.select_related("assignee").filter(open_visitor_id=conversation.visitor.pk).first()
            )
            if existing is None:
                raise
            existing.visitor = conversation.visitor
            stored.append((existing, False))
        else:
            stored.append((conversation, True))
    return stored


# --- the queue -------------------------------------------------------------------------------------


def queue_offer(*, enterprise: Enterprise) -> list[Conversation]:
    """Give the oldest waiting conversations to the agents with room, as routing would; those given."""
    now = timezone.now()
    given: list[Conversation] = []
    if not queue_of(enterprise.pk).exists():  # the usual case: nothing to lock agents for
        return given
    with transaction.atomic():
        candidates = _candidates(enterprise)
        room = [candidate for candidate in candidates.values() if candidate.has_room()]
        if not room:
            return []
        wanted = _OFFER_MAX if any(c.limit == 0 for c in room) else sum(c.limit - c.load for c in room)
        waiting = list(
            Conversation.objects.filter(enterprise_id=enterprise.pk, status=Status.WAITING)
            .select_related("visitor")
            .order_by("created_at", "pk")[: min(wanted, _OFFER_MAX)]
        )
        changes = Changes()
        for conversation in waiting:
            candidate = _pick(candidates, conversation.visitor.agent_id)
            if candidate is None:
                break
            taken = Conversation.objects.filter(pk=conversation.pk, status=Status.WAITING).update(
                status=Status.OPEN, assignee=candidate.agent, assigned_at=now, last_activity_at=now
            )
            if not taken:  # someone took it a moment earlier
                continue
            candidate.load += 1
            candidate.agent.last_assigned_at = now
            conversation.status, conversation.assignee, conversation.assigned_at = Status.OPEN, candidate.agent, now
            conversation.last_activity_at = now
            changes.left_queue(conversation)
            changes.add(
                conversation,
                "assigned",
                timeline_line(conversation, "assigned", agent=frames.agent_brief(candidate.agent)),
            )
            given.append(conversation)
        if given:
            User.objects.filter(pk__in={c.assignee_id for c in given}).update(last_assigned_at=now)
            changes.publish()
    return given


def queues_offer_all() -> int:
    """queue_offer for every enterprise with a waiting conversation; how many were given out.

    Run now and then (chat.realtime.heartbeat): the events that give out the queue (an agent coming online, a
    slot freed) may have found presence unreadable while Redis was away, and would not come again.
    """
    given = 0
    waiting = Conversation.objects.filter(status=Status.WAITING).values_list("enterprise_id", flat=True).distinct()
    for enterprise in Enterprise.objects.filter(pk__in=list(waiting), is_active=True):
        given += len(queue_offer(enterprise=enterprise))
    return given
