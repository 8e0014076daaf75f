"""Ending conversations and what follows: close (by an agent, by the visitor, idle ones, blocked ones),
reopen, a late visitor message adopting its closed conversation, clearing a visitor's history, and the
periodic desk chores."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

from channels.db import database_sync_to_async
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import permissions
from accounts.models import User
from core.errors import ChatError
from enterprises.audit import audit_record
from enterprises.models import AuditAction, Enterprise, ip_key

from .. import frames
from ..access import access_conversation, access_visitor
from ..models import Attachment, Conversation, Message, Visitor
from .routing import agent_lock_with_room, conversations_open, queue_offer, queues_offer_all
from .timeline import LIVE, Changes, Status, conversation_cache, conversation_of, timeline_line


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
                status__in=LIVE,
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


def conversations_close_blocked(
    *, agent: User, visitor_pk: int | None = None, ip_range: tuple[str, str] | None = None, limit: int = 1000
) -> int:
    """Close the live conversations a block of the agent's enterprise turns away: the visitor's
    (`visitor_pk`), or those of visitors last seen at an address in `ip_range` (its first and last ip_key);
    each gets a "closed" timeline line that says the agent blocked them. How many were closed."""
    if agent.enterprise_id is None:
        return 0
    live = Conversation.objects.filter(enterprise_id=agent.enterprise_id, status__in=LIVE)
    if visitor_pk is not None:
        live = live.filter(visitor_id=visitor_pk)
    closed = 0
    for conversation in live.select_related("visitor__enterprise", "assignee").order_by("pk")[:limit]:
        key = ip_key(conversation.visitor.ip)
        if ip_range is not None and not (key and ip_range[0] <= key <= ip_range[1]):
            continue
        _close(conversation, Conversation.ClosedBy.AGENT, agent, blocked=True)
        closed += 1
    return closed


def _close(conversation: Conversation, by: str, agent: User | None, **details: Any) -> Conversation:
    now = timezone.now()
    last = conversation.last_activity()  # while it is live: its visitor's last message counts
    with transaction.atomic():
        closed = Conversation.objects.filter(pk=conversation.pk, status__in=LIVE).update(
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
        changes = Changes()
        if was == Status.WAITING:
            changes.left_queue(conversation)
        line = timeline_line(conversation, "closed", by=by, agent=frames.agent_brief(agent), **details)
        changes.add(conversation, "closed", line)
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
        agent_lock_with_room(agent)
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
        changes = Changes()
        changes.add(conversation, "reopened", timeline_line(conversation, "reopened", agent=frames.agent_brief(agent)))
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
        audit_record(
            action=AuditAction.HISTORY_CLEARED,
            actor=agent,
            target_type="visitor",
            target_id=visitor.visitor_id,
            target_name=visitor.real_name or visitor.name,
        )
        conversation_cache(visitor, None)
        changes = Changes()
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
