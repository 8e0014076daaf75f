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

import time
import uuid
from collections import defaultdict
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from channels.db import database_sync_to_async
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from accounts import permissions
from accounts.models import AgentStatus, User
from core.errors import ChatError
from core.savepoints import nested_savepoint
from enterprises.models import Enterprise

from . import frames
from .access import access_colleague, access_conversation, access_visitor
from .models import Attachment, Conversation, Message, Visitor
from .realtime.broadcast import publish_on_commit
from .realtime.presence import AGENT, online_now
from .selectors import open_loads

Status = Conversation.Status
_LIVE = (Status.WAITING, Status.OPEN)
_NOTE_MAX = 500
_OFFER_MAX = 200  # waiting conversations handed out by one offer; the next slot that frees takes more
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_OPEN_CACHE = Visitor.open_conversation.related  # type: ignore[attr-defined]


# --- the visitor's open conversation, as loaded with it -------------------------------------------


def conversation_of(visitor: Visitor) -> Conversation | None:
    """The visitor's waiting or open conversation as loaded with it (access_* and the socket lookups load
    it); None if there is none."""
    try:
        return visitor.open_conversation  # type: ignore[no-any-return]
    except Conversation.DoesNotExist:
        return None


def conversation_cache(visitor: Visitor, conversation: Conversation | None) -> None:
    """Remember `conversation` as the visitor's open one (None: closed, or none yet) without a query."""
    _OPEN_CACHE.set_cached_value(
        visitor, conversation if conversation is None or conversation.status in _LIVE else None
    )


def conversation_remember(visitor: Visitor, conversation: Conversation | None) -> None:
    """conversation_cache once the current transaction commits: a conversation opened in a transaction
    that rolls back must not outlive it in a socket's cache (at once outside a transaction)."""
    transaction.on_commit(lambda: conversation_cache(visitor, conversation))


def conversation_from_payload(data: dict[str, Any], visitor: Visitor) -> Conversation | None:
    """The visitor's open conversation as an event describes it (conversation_payload, or the visitor's
    view of it): what a socket caches between events so that its messages need no lookup."""
    if not data or data.get("status") not in _LIVE:
        return None
    assignee = data.get("assignee") or {}
    first_reply = data.get("first_reply_at")
    return Conversation(
        pk=data["id"],
        enterprise_id=visitor.enterprise_id,
        visitor_id=visitor.pk,
        status=data["status"],
        assignee_id=assignee.get("id"),
        # Read by agent messages only (the agents' payload carries it; the visitor's view does not).
        first_reply_at=parse_datetime(first_reply) if isinstance(first_reply, str) else None,
    )


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


def _lock_with_room(agent: User) -> None:
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


# --- timeline lines and events ----------------------------------------------------------------------


def _line(conversation: Conversation, code: str, **details: Any) -> Message:
    """A system line of the conversation's timeline; clients word it from `code` and `meta`."""
    assignee = conversation.assignee if conversation.assignee_id else None
    meta = {
        "conversation": {
            "id": conversation.pk,
            "status": conversation.status,
            "assignee": frames.agent_brief(assignee),
        },
        **details,
    }
    return Message(
        enterprise_id=conversation.enterprise_id,
        visitor=conversation.visitor,  # loaded by every caller: its public id goes out with the line
        conversation=conversation,
        sender=Message.Sender.SYSTEM,
        kind=Message.Kind.EVENT,
        content=code,
        meta=meta,
        client_id=f"sys-{uuid.uuid4().hex}",
    )


def _lines_insert(lines: list[Message]) -> None:
    if len(lines) > 1 and transaction.get_connection().features.can_return_rows_from_bulk_insert:
        Message.objects.bulk_create(lines)
    else:
        for line in lines:
            line.save(force_insert=True)


def _queue(enterprise_id: int) -> Any:
    return Conversation.objects.filter(enterprise_id=enterprise_id, status=Status.WAITING)


class _Changes:
    """What one service call changed, published together after its commit."""

    def __init__(self, waiting: dict[int, int] | None = None) -> None:
        # Per enterprise, how many waited before this call's arrivals, where the caller has counted them.
        self.waiting = waiting or {}
        self.items: list[tuple[str, dict[str, Any]]] = []
        self.lines: list[Message] = []
        self.changed: list[tuple[Conversation, str]] = []
        # Per enterprise: the oldest creation time of a conversation that left the queue (those behind it
        # moved up), or None where only new ones joined it.
        self.queues: dict[int, datetime | None] = {}

    def _positions(self) -> tuple[dict[int, int], dict[int, tuple[int, int]]]:
        """The queue position of each changed conversation that waits, and (visitor pk, position) of the
        waiting ones that moved up because one ahead of them left; one query per enterprise."""
        positions: dict[int, int] = {}
        behind: dict[int, tuple[int, int]] = {}
        changed = {c.pk for c, _change in self.changed}
        for enterprise_id, moved in self.queues.items():
            if moved is None:
                # Only arrivals: they queue behind everyone already waiting, in the order they came.
                new = sorted(
                    (
                        c
                        for c, _change in self.changed
                        if c.enterprise_id == enterprise_id and c.status == Status.WAITING
                    ),
                    key=lambda c: (c.created_at, c.pk),
                )
                ahead = self.waiting.get(enterprise_id)
                if ahead is None:
                    ahead = _queue(enterprise_id).exclude(pk__in=[c.pk for c in new]).count()
                positions.update((c.pk, ahead + rank) for rank, c in enumerate(new, start=1))
                continue
            rows = _queue(enterprise_id).order_by("created_at", "pk").values_list("pk", "visitor_id", "created_at")
            for position, (pk, visitor_pk, created) in enumerate(rows, start=1):
                positions[pk] = position
                if created > moved and pk not in changed:
                    behind[pk] = (visitor_pk, position)
        return positions, behind

    def add(self, conversation: Conversation, change: str, line: Message | None) -> None:
        self.changed.append((conversation, change))
        if line is not None:
            self.lines.append(line)
        if conversation.status == Status.WAITING:
            self.queues.setdefault(conversation.enterprise_id, None)

    def left_queue(self, conversation: Conversation) -> None:
        moved = self.queues.get(conversation.enterprise_id)
        if moved is None or conversation.created_at < moved:
            self.queues[conversation.enterprise_id] = conversation.created_at

    def publish(self, into: list[tuple[str, dict[str, Any]]] | None = None) -> None:
        """Insert the timeline lines and publish everything once the transaction commits; or add it to
        `into`, the publishes of a caller that will make them after its own writes."""
        _lines_insert(self.lines)
        positions, behind = self._positions()
        items = self.items
        for conversation, change in self.changed:
            visitor = conversation.visitor
            agents = frames.group_agents(conversation.enterprise_id)
            items.append(
                (
                    agents,
                    frames.conversation_updated_frame(
                        frames.conversation_payload(conversation, visitor.visitor_id), change
                    ),
                )
            )
            items.append(
                (
                    frames.group_visitor(visitor.pk),
                    frames.conversation_visitor_frame(
                        frames.conversation_visitor_payload(conversation, positions.get(conversation.pk))
                    ),
                )
            )
        for line in self.lines:
            payload = frames.message_new_frame(frames.message_payload(line, line.visitor.visitor_id))
            items.append((frames.group_agents(line.enterprise_id), payload))
            items.append((frames.group_visitor(line.visitor_id), payload))
        for pk, (visitor_pk, position) in behind.items():
            place = frames.conversation_visitor_payload(Conversation(pk=pk, status=Status.WAITING), position)
            items.append((frames.group_visitor(visitor_pk), frames.conversation_visitor_frame(place)))
        if into is not None:
            into.extend(items)
        elif items:
            publish_on_commit(items)


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
    waiting = {ent: _queue(ent).count() if agent is None else 0 for ent in by_enterprise}
    online = {ent: online_now(ent, AGENT) if agent is None and not waiting[ent] else set() for ent in by_enterprise}
    routable = {
        ent: bool(online[ent])
        and any(c.has_room() for c in _candidates(group[0].enterprise, lock=False, online=online[ent]).values())
        for ent, group in by_enterprise.items()
    }
    with transaction.atomic() if any(routable.values()) else nullcontext():
        changes = _Changes(waiting)
        assigned_agents: set[int] = set()
        for ent, visitors_of in by_enterprise.items():
            enterprise = visitors_of[0].enterprise
            candidates = _candidates(enterprise, online=online[ent]) if routable[ent] else {}
            fresh: list[Conversation] = []
            for visitor in visitors_of:
                conversation = Conversation(
                    enterprise_id=enterprise.pk,
                    visitor=visitor,
                    open_visitor_id=visitor.pk,  # not open_visitor=: that would cache it on `visitor` now
                    status=Status.WAITING,
                    last_activity_at=now,
                )
                pick = agent if agent is not None else None
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
                    assigned_agents.add(pick.pk)
                if agent is not None:  # opened by the agent's message: its first reply
                    conversation.first_reply_at = now
                fresh.append(conversation)
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
    if not _queue(enterprise.pk).exists():  # the usual case: nothing to lock agents for
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
        changes = _Changes()
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
                conversation, "assigned", _line(conversation, "assigned", agent=frames.agent_brief(candidate.agent))
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


# --- what agents do ----------------------------------------------------------------------------------


def conversation_take(*, agent: User, conversation_id: object) -> Conversation:
    """The agent takes a waiting conversation; first taker wins, on every process."""
    permissions.require(agent, permissions.TAKE)
    now = timezone.now()
    with transaction.atomic():
        conversation = access_conversation(agent=agent, conversation_id=conversation_id)
        if conversation.status != Status.WAITING:
            raise _not_waiting(conversation)
        _lock_with_room(agent)
        taken = Conversation.objects.filter(pk=conversation.pk, status=Status.WAITING).update(
            status=Status.OPEN, assignee=agent, assigned_at=now, last_activity_at=now
        )
        if not taken:
            conversation.refresh_from_db()
            raise _not_waiting(conversation)
        conversation.status, conversation.assignee, conversation.assigned_at = Status.OPEN, agent, now
        conversation.last_activity_at = now
        changes = _Changes()
        changes.left_queue(conversation)
        changes.add(conversation, "taken", _line(conversation, "taken", agent=frames.agent_brief(agent)))
        changes.publish()
    return conversation


def conversations_claim_by_reply(*, claims: list[tuple[Conversation, User]]) -> None:
    """An agent who answers a waiting conversation takes it, if they may take conversations at all; where
    two answer at once, the first one's answer wins it."""
    now = timezone.now()
    with transaction.atomic():
        changes = _Changes()
        for conversation, agent in claims:
            if not agent.has_perm(permissions.TAKE):
                continue
            taken = Conversation.objects.filter(pk=conversation.pk, status=Status.WAITING).update(
                status=Status.OPEN, assignee=agent, assigned_at=now, last_activity_at=now
            )
            if taken:
                conversation.status, conversation.assignee, conversation.assigned_at = Status.OPEN, agent, now
                conversation.last_activity_at = now
                changes.left_queue(conversation)
                changes.add(conversation, "taken", _line(conversation, "taken", agent=frames.agent_brief(agent)))
        changes.publish()


def _not_waiting(conversation: Conversation) -> ChatError:
    if conversation.status == Status.OPEN:
        return ChatError("already_taken", _("Another agent took this conversation a moment ago."), 409)
    return ChatError("closed", _("This conversation is closed."), 409)


def conversation_transfer(
    *, agent: User, conversation_id: object, to_agent_id: object, note: object = ""
) -> Conversation:
    """Hand a waiting or open conversation to another online agent of the enterprise, with a note for them."""
    permissions.require(agent, permissions.TRANSFER)
    if note is None:
        note = ""
    if not isinstance(note, str):
        raise ChatError("bad_note", _("The note must be text."))
    note = note.strip()
    if len(note) > _NOTE_MAX:
        raise ChatError("too_large", _("The note is limited to %(limit)d characters.") % {"limit": _NOTE_MAX}, 413)
    now = timezone.now()
    with transaction.atomic():
        access_conversation(agent=agent, conversation_id=conversation_id)  # "not found" before anything else
        target = access_colleague(agent=agent, agent_id=to_agent_id)
        if target.status == AgentStatus.OFFLINE or target.pk not in online_now(target.enterprise_id or 0, AGENT):
            raise ChatError("agent_offline", _("%(name)s is offline.") % {"name": target.display_name}, 409)
        _lock_with_room(target)
        conversation = access_conversation(agent=agent, conversation_id=conversation_id, for_update=True)
        if conversation.status == Status.CLOSED:
            raise ChatError("closed", _("This conversation is closed."), 409)
        if target.pk == conversation.assignee_id:
            raise ChatError("same_agent", _("The conversation is already theirs."), 409)
        previous = conversation.assignee if conversation.assignee_id else None
        was_waiting = conversation.status == Status.WAITING
        conversation.status, conversation.assignee, conversation.assigned_at = Status.OPEN, target, now
        conversation.last_activity_at = now
        conversation.transfer_note = note
        conversation.save(update_fields=["status", "assignee", "assigned_at", "transfer_note", "last_activity_at"])
        changes = _Changes()
        if was_waiting:
            changes.left_queue(conversation)
        line = _line(
            conversation,
            "transferred",
            by=frames.agent_brief(agent),
            to=frames.agent_brief(target),
            **{"from": frames.agent_brief(previous)},
        )
        changes.add(conversation, "transferred", line)
        payload = frames.conversation_payload(conversation, conversation.visitor.visitor_id)
        changes.items.append(
            (frames.group_agent(target.pk), frames.conversation_transferred_frame(payload, agent, note))
        )
        changes.publish()
    if previous is not None:
        queue_offer(enterprise=conversation.visitor.enterprise)
    return conversation


def conversation_close(*, agent: User, conversation_id: object) -> Conversation:
    """The agent closes the conversation (closing a closed one changes nothing)."""
    permissions.require(agent, permissions.CLOSE)
    conversation = access_conversation(agent=agent, conversation_id=conversation_id)
    return _close(conversation, Conversation.ClosedBy.AGENT, agent)


def conversation_close_by_visitor(*, visitor: Visitor) -> Conversation | None:
    """The visitor ends their conversation; None if they had none open."""
    conversation = Conversation.objects.filter(open_visitor_id=visitor.pk).select_related("assignee").first()
    if conversation is None:
        return None
    conversation.visitor = visitor
    return _close(conversation, Conversation.ClosedBy.VISITOR, None)


def conversations_close_idle(*, now: datetime | None = None, limit: int = 500) -> int:
    """Close the conversations with no message for longer than their enterprise allows; how many."""
    now = now or timezone.now()
    closed = 0
    for enterprise in Enterprise.objects.filter(is_active=True, auto_close_minutes__gt=0):
        cutoff = now - timedelta(minutes=enterprise.auto_close_minutes)
        idle = (
            Conversation.objects.filter(
                Q(visitor__last_message_at__lt=cutoff) | Q(visitor__last_message_at__isnull=True),
                enterprise_id=enterprise.pk,
                status__in=_LIVE,
                last_activity_at__lt=cutoff,
            )
            .select_related("visitor", "assignee")
            .order_by("pk")[:limit]
        )
        for conversation in idle:
            conversation.visitor.enterprise = enterprise
            _close(conversation, Conversation.ClosedBy.SYSTEM, None)
            closed += 1
    return closed


def _close(conversation: Conversation, by: str, agent: User | None) -> Conversation:
    now = timezone.now()
    last = conversation.last_activity()  # while it is live: its visitor's last message counts
    with transaction.atomic():
        closed = Conversation.objects.filter(pk=conversation.pk, status__in=_LIVE).update(
            status=Status.CLOSED,
            open_visitor=None,
            closed_at=now,
            closed_by=by,
            closed_by_agent=agent,
            last_activity_at=last,
        )
        if not closed:
            conversation.refresh_from_db()
            return conversation
        was = conversation.status
        conversation.status, conversation.closed_at, conversation.closed_by = Status.CLOSED, now, by
        conversation.last_activity_at = last
        conversation.closed_by_agent = agent
        conversation.open_visitor_id = None
        changes = _Changes()
        if was == Status.WAITING:
            changes.left_queue(conversation)
        changes.add(conversation, "closed", _line(conversation, "closed", by=by, agent=frames.agent_brief(agent)))
        changes.publish()
    if was == Status.OPEN:
        queue_offer(enterprise=conversation.visitor.enterprise)
    return conversation


def conversation_adopt_late(*, visitor: Visitor, conversation_id: int) -> Conversation | None:
    """The visitor's messages stored in a conversation after it closed, moved to a new one (routed); None
    if there were none.

    A socket caches its visitor's conversation and learns of a close from the close's event, a moment
    after the commit: a message sent in that moment lands in the closed conversation. The socket that
    stored it calls this when the event arrives, so the message still reaches an agent as a new
    conversation instead of waiting unseen in a closed one.
    """
    closing = (
        Message.objects.filter(conversation_id=conversation_id, kind=Message.Kind.EVENT, content="closed")
        .order_by("-pk")
        .values_list("pk", flat=True)
        .first()
    )
    if closing is None:
        return None
    late = Message.objects.filter(
        conversation_id=conversation_id, visitor_id=visitor.pk, sender=Message.Sender.VISITOR, pk__gt=closing
    )
    if not late.exists():
        return None
    with transaction.atomic():
        current = Conversation.objects.filter(open_visitor_id=visitor.pk).first()
        if current is None:
            current = conversations_open(visitors=[visitor])[visitor.pk]
        late.update(conversation=current)
    return current


def conversation_reopen(*, agent: User, conversation_id: object) -> Conversation:
    """The agent reopens a closed conversation and serves it; refused while the visitor has another one."""
    permissions.require(agent, permissions.CLOSE)
    now = timezone.now()
    with transaction.atomic():
        if access_conversation(agent=agent, conversation_id=conversation_id).status != Status.CLOSED:
            raise ChatError("not_closed", _("This conversation is not closed."), 409)
        _lock_with_room(agent)
        conversation = access_conversation(agent=agent, conversation_id=conversation_id, for_update=True)
        if conversation.status != Status.CLOSED:
            raise ChatError("not_closed", _("This conversation is not closed."), 409)
        conversation.status, conversation.assignee, conversation.assigned_at = Status.OPEN, agent, now
        conversation.open_visitor_id = conversation.visitor_id
        conversation.closed_at, conversation.closed_by, conversation.closed_by_agent = None, "", None
        conversation.last_activity_at = now
        try:
            with transaction.atomic():
                conversation.save()
        except IntegrityError:
            raise ChatError(
                "conversation_open", _("The visitor has another conversation open; continue that one."), 409
            ) from None
        changes = _Changes()
        changes.add(conversation, "reopened", _line(conversation, "reopened", agent=frames.agent_brief(agent)))
        changes.publish()
    return conversation


def visitor_history_clear(*, agent: User, visitor_id: object) -> Visitor:
    """Delete every message, upload and conversation of the visitor, in every view on every process."""
    permissions.require(agent, permissions.CLEAR_HISTORY)
    with transaction.atomic():
        visitor = access_visitor(agent=agent, visitor_id=visitor_id)
        live = conversation_of(visitor)
        Message.objects.filter(visitor=visitor).delete()
        Attachment.objects.filter(visitor=visitor).delete()  # their files go after the commit
        Conversation.objects.filter(visitor=visitor).delete()
        Visitor.objects.filter(pk=visitor.pk).update(last_message_at=None)
        visitor.last_message_at = None
        conversation_cache(visitor, None)
        changes = _Changes()
        if live is not None and live.status == Status.WAITING:
            changes.left_queue(live)
        cleared = frames.visitor_cleared_frame(visitor.visitor_id)
        changes.items += [
            (frames.group_agents(visitor.enterprise_id), cleared),
            (frames.group_visitor(visitor.pk), cleared),
        ]
        changes.publish()
    if live is not None and live.status == Status.OPEN:
        queue_offer(enterprise=visitor.enterprise)
    return visitor


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
    """The agent chooses online, away or offline; an agent coming online is offered the queue."""
    if status not in AgentStatus.values:
        raise ChatError("bad_status", _("Status must be online, away or offline."))
    with transaction.atomic():
        User.objects.filter(pk=agent.pk).update(status=status)
        agent.status = str(status)
        payload = agent_status_publish(agent=agent)
    if status == AgentStatus.ONLINE and agent.enterprise is not None:
        queue_offer(enterprise=agent.enterprise)
    return payload


def agent_presence_changed(*, agent: User, online: bool) -> None:
    """The agent's first socket opened or last one closed (on whichever process): tell colleagues, and
    offer the queue to an agent who came online."""
    agent_status_publish(agent=agent, online=online)
    if online and agent.status == AgentStatus.ONLINE and agent.enterprise is not None:
        queue_offer(enterprise=agent.enterprise)


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


def routing_settings(enterprise: Enterprise) -> dict[str, Any]:
    return {
        "max_conversations_per_agent": enterprise.max_conversations_per_agent,
        "auto_close_minutes": enterprise.auto_close_minutes,
    }


def routing_settings_update(
    *, agent: User, max_conversations_per_agent: object = None, auto_close_minutes: object = None
) -> dict[str, Any]:
    """An enterprise admin sets the agents' default limit and the inactivity time; a raised limit is
    offered the queue at once."""
    permissions.require(agent, permissions.MANAGE_SETTINGS)
    with transaction.atomic():
        enterprise = Enterprise.objects.select_for_update().get(pk=agent.enterprise_id or 0)
        if max_conversations_per_agent is not None:
            enterprise.max_conversations_per_agent = (
                _bounded(max_conversations_per_agent, "max_conversations_per_agent", _LIMIT_MAX) or 0
            )
        if auto_close_minutes is not None:
            enterprise.auto_close_minutes = _bounded(auto_close_minutes, "auto_close_minutes", _AUTO_CLOSE_MAX) or 0
        enterprise.save(update_fields=["max_conversations_per_agent", "auto_close_minutes"])
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
    if colleague.enterprise is not None:
        queue_offer(enterprise=colleague.enterprise)
    return payload


_CHORES_EVERY = 60.0  # seconds between two passes over the conversations
_chores_done = 0.0


async def desk_chores(_: None = None) -> None:
    """chat.hooks.periodic_chore: close the conversations idle for longer than their enterprise allows, and
    give out waiting ones that an agent has room for. Every process may run them: each change is a
    conditional UPDATE, so it is made and announced once."""
    global _chores_done
    now = time.monotonic()
    if now - _chores_done < _CHORES_EVERY:
        return
    _chores_done = now
    await database_sync_to_async(conversations_close_idle)()
    await database_sync_to_async(queues_offer_all)()
