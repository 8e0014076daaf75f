"""What agents do with a waiting or open conversation: take it, claim it by replying, transfer it to a
colleague (with a note for them)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import permissions
from accounts.models import AgentStatus, User
from core.errors import ChatError

from .. import frames
from ..access import access_colleague, access_conversation
from ..models import Conversation
from ..realtime.presence import AGENT, online_now
from .routing import agent_lock_with_room, queue_offer
from .timeline import Changes, Status, timeline_line

_NOTE_MAX = 500


# --- what agents do ----------------------------------------------------------------------------------


def conversation_take(*, agent: User, conversation_id: object) -> Conversation:
    """The agent takes a waiting conversation; first taker wins, on every process."""
    permissions.require(agent, permissions.TAKE)
    now = timezone.now()
    with transaction.atomic():
        conversation = access_conversation(agent=agent, conversation_id=conversation_id)
        if conversation.status != Status.WAITING:
            raise _not_waiting(conversation)
        agent_lock_with_room(agent)
        taken = Conversation.objects.filter(pk=conversation.pk, status=Status.WAITING).update(
            status=Status.OPEN, assignee=agent, assigned_at=now, last_activity_at=now
        )
        if not taken:
            conversation.refresh_from_db()
            raise _not_waiting(conversation)
        conversation.status, conversation.assignee, conversation.assigned_at = Status.OPEN, agent, now
        conversation.last_activity_at = now
        changes = Changes()
        changes.left_queue(conversation)
        changes.add(conversation, "taken", timeline_line(conversation, "taken", agent=frames.agent_brief(agent)))
        changes.publish()
    return conversation


def conversations_claim_by_reply(*, claims: list[tuple[Conversation, User]]) -> None:
    """An agent who answers a waiting conversation takes it, if they may take conversations at all; where
    two answer at once, the first one's answer wins it."""
    now = timezone.now()
    asked: set[int] = set()
    with transaction.atomic():
        changes = Changes()
        for conversation, agent in claims:
            if id(agent) not in asked:  # a socket's agent object outlives role changes: ask again (two queries)
                asked.add(id(agent))
                permissions.permissions_forget(agent)
            if not agent.has_perm(permissions.TAKE):
                continue
            taken = Conversation.objects.filter(pk=conversation.pk, status=Status.WAITING).update(
                status=Status.OPEN, assignee=agent, assigned_at=now, last_activity_at=now
            )
            if taken:
                conversation.status, conversation.assignee, conversation.assigned_at = Status.OPEN, agent, now
                conversation.last_activity_at = now
                changes.left_queue(conversation)
                changes.add(
                    conversation, "taken", timeline_line(conversation, "taken", agent=frames.agent_brief(agent))
                )
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
        agent_lock_with_room(target)
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
        changes = Changes()
        if was_waiting:
            changes.left_queue(conversation)
        line = timeline_line(
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
