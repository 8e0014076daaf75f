"""The visitor's open conversation as loaded with it, the lines of a conversation's timeline, and what one
conversation service call publishes after its commit (Changes)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils.dateparse import parse_datetime

from .. import frames
from ..models import Conversation, Message, Visitor
from ..realtime.broadcast import publish_on_commit

Status = Conversation.Status
LIVE = (Status.WAITING, Status.OPEN)
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
    _OPEN_CACHE.set_cached_value(visitor, conversation if conversation is None or conversation.status in LIVE else None)


def conversation_remember(visitor: Visitor, conversation: Conversation | None) -> None:
    """conversation_cache once the current transaction commits: a conversation opened in a transaction
    that rolls back must not outlive it in a socket's cache (at once outside a transaction)."""
    transaction.on_commit(lambda: conversation_cache(visitor, conversation))


def conversation_from_payload(data: dict[str, Any], visitor: Visitor) -> Conversation | None:
    """The visitor's open conversation as an event describes it (conversation_payload, or the visitor's
    view of it): what a socket caches between events so that its messages need no lookup."""
    if not data or data.get("status") not in LIVE:
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


# --- timeline lines and events ----------------------------------------------------------------------


def timeline_line(conversation: Conversation, code: str, **details: Any) -> Message:
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


def timeline_lines_insert(lines: list[Message]) -> None:
    if len(lines) > 1 and transaction.get_connection().features.can_return_rows_from_bulk_insert:
        Message.objects.bulk_create(lines)
    else:
        for line in lines:
            line.save(force_insert=True)


def queue_of(enterprise_id: int) -> Any:
    return Conversation.objects.filter(enterprise_id=enterprise_id, status=Status.WAITING)


class Changes:
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
                    ahead = queue_of(enterprise_id).exclude(pk__in=[c.pk for c in new]).count()
                positions.update((c.pk, ahead + rank) for rank, c in enumerate(new, start=1))
                continue
            rows = queue_of(enterprise_id).order_by("created_at", "pk").values_list("pk", "visitor_id", "created_at")
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
        timeline_lines_insert(self.lines)
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
