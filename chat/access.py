"""The tenant-scoped lookups: every view, consumer and service finds a visitor, a conversation or a
colleague through these, and "not yours" answers exactly like "not found". And the gate wherever a
visitor arrives (login, socket, visitor HTTP): whether a block of theirs holds (the blacklist app writes
them; both kinds are checked by time at each arrival, so an expired block needs no cron)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User, username_normalise
from core.errors import ChatError, not_found
from core.jsonin import row_id
from enterprises.models import ip_key
from enterprises.selectors import ip_blacklisted

from .identity import visitor_token_fits
from .models import Conversation, Tag, Visitor, VisitorBlock

_PUBLIC_ID_MAX = 64


def _visitors(enterprise_id: int) -> Any:
    # The open conversation and its assignee come with the visitor: the message path reads them.
    return Visitor.objects.filter(enterprise_id=enterprise_id).select_related(
        "enterprise", "open_conversation", "open_conversation__assignee"
    )


def access_visitor(*, agent: User, visitor_id: object) -> Visitor:
    """The visitor of the agent's enterprise with that public id, its open conversation loaded."""
    if agent.enterprise_id is not None and isinstance(visitor_id, str) and 0 < len(visitor_id) <= _PUBLIC_ID_MAX:
        visitor = _visitors(agent.enterprise_id).filter(visitor_id=visitor_id).first()
        if visitor is not None:
            return visitor
    raise not_found(_("Visitor"))


def access_visitor_self(
    *, enterprise_id: int, visitor_pk: int, ip: str | None = None, identity: str | None = None
) -> Visitor:
    """The visitor a visitor token names (chat.identity), if it still exists in that enterprise and the
    enterprise is active; with its block (`visitor.block`, in the same query) and, given `ip`, whether that
    address is blacklisted (`visitor.ip_blocked`, one more query; the blacklist app writes both). Given the token's
    `identity`, the token must still hold under the enterprise's identity secret (visitor_token_fits)."""
    visitor = _visitors(enterprise_id).select_related("block").filter(pk=visitor_pk).first()
    if visitor is None or not visitor.enterprise.is_active:
        raise not_found(_("Visitor"))
    if identity is not None and not visitor_token_fits(identity, visitor.enterprise):
        raise not_found(_("Visitor"))
    if ip_key(ip):
        visitor.ip_blocked = ip_blacklisted(enterprise_id, ip)  # type: ignore[attr-defined]
    return visitor


def access_conversation(*, agent: User, conversation_id: object, for_update: bool = False) -> Conversation:
    """The conversation of the agent's enterprise with that id, with its visitor and assignee; locked for
    the caller's transaction with `for_update` (then call it inside transaction.atomic)."""
    pk = row_id(conversation_id)
    if pk is not None and agent.enterprise_id is not None:
        conversations = Conversation.objects.filter(enterprise_id=agent.enterprise_id, pk=pk)
        if for_update:
            # Locks the conversation row alone; the related rows are read after it.
            conversation = conversations.select_for_update().first()
            if conversation is not None:
                conversation = Conversation.objects.select_related("visitor", "assignee", "visitor__enterprise").get(
                    pk=conversation.pk
                )
        else:
            conversation = conversations.select_related("visitor", "assignee", "visitor__enterprise").first()
        if conversation is not None:
            return conversation
    raise not_found(_("Conversation"))


def access_colleague(*, agent: User, agent_id: object) -> User:
    """An active agent of the same enterprise (a transfer's target)."""
    pk = row_id(agent_id)
    if pk is not None and agent.enterprise_id is not None:
        colleague = User.objects.filter(enterprise_id=agent.enterprise_id, pk=pk, is_active=True).select_related(
            "enterprise"
        )
        found = colleague.first()
        if found is not None:
            return found
    raise not_found(_("Agent"))


def access_tag(*, agent: User, tag_id: Any, for_update: bool = False) -> Tag:
    """The tag of the agent's enterprise with that id; another enterprise's answers like a missing one."""
    pk = row_id(tag_id)
    if pk is not None and agent.enterprise_id is not None:
        tags = Tag.objects.filter(enterprise_id=agent.enterprise_id, pk=pk)
        tag = (tags.select_for_update() if for_update else tags).first()
        if tag is not None:
            return tag
    raise not_found(_("Tag"))


def agent_by_kefu_id(kefu_id: str, *, enterprise_id: int | None = None) -> User | None:
    """The active agent a visitor link or login names by username (`kefu_id`): of `enterprise_id`, or,
    without one, of whichever enterprise (usernames are unique, so a link naming only the agent finds its
    enterprise). None for no such agent, a disabled one, or a superadmin without an enterprise."""
    if not kefu_id or not isinstance(kefu_id, str):
        return None
    agents = User.objects.filter(username=username_normalise(kefu_id), is_active=True)
    if enterprise_id is None:
        agents = agents.filter(enterprise__isnull=False)
    else:
        agents = agents.filter(enterprise_id=enterprise_id)
    return agents.first()


# --- the blacklist gate -------------------------------------------------------------------------


def blocked_error() -> ChatError:
    return ChatError("blacklisted", _("You cannot chat here."), 403)


def address_blocked_error() -> ChatError:
    """The answer to a visitor whose address is on the enterprise's IP blacklist, wherever they arrive."""
    return ChatError("blacklisted", _("Your address is not allowed to chat here."), 403)


def live(now: datetime | None = None) -> Q:
    """Blocks not expired at `now`."""
    return Q(expires_at__isnull=True) | Q(expires_at__gt=now or timezone.now())


def visitor_block_active(visitor: Visitor) -> VisitorBlock | None:
    """The visitor's block if it holds now; no query when `block` was selected with the visitor."""
    try:
        block = visitor.block
    except VisitorBlock.DoesNotExist:
        return None
    return block if block.active() else None


def visitor_block_summary(visitor: Visitor) -> dict[str, Any] | None:
    """What the visitor's details show: the block in force, or None."""
    block = visitor_block_active(visitor)
    if block is None:
        return None
    return {"reason": block.reason, "expires_at": block.expires_at.isoformat() if block.expires_at else None}
