"""The tenant-scoped lookups: every view, consumer and service finds a visitor, a conversation or a
colleague through these, and "not yours" answers exactly like "not found"."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from accounts.models import User
from core.errors import not_found
from enterprises.models import ip_key
from enterprises.selectors import ip_blacklisted

from .identity import visitor_token_fits
from .models import Conversation, Visitor

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
    address is blacklisted (`visitor.ip_blocked`, one more query; chat.blacklist). Given the token's
    `identity`, the token must still hold under the enterprise's identity secret (visitor_token_fits)."""
    visitor = _visitors(enterprise_id).select_related("block").filter(pk=visitor_pk).first()
    if visitor is None or not visitor.enterprise.is_active:
        raise not_found(_("Visitor"))
    if identity is not None and not visitor_token_fits(identity, visitor.enterprise.identity_secret):
        raise not_found(_("Visitor"))
    if ip_key(ip):
        visitor.ip_blocked = ip_blacklisted(enterprise_id, ip)  # type: ignore[attr-defined]
    return visitor


def _pk(conversation_id: object) -> int | None:
    if isinstance(conversation_id, bool):
        return None
    if isinstance(conversation_id, str) and conversation_id.isdigit() and len(conversation_id) < 19:
        conversation_id = int(conversation_id)
    if isinstance(conversation_id, int) and 0 < conversation_id < 2**63:
        return conversation_id
    return None


def access_conversation(*, agent: User, conversation_id: object, for_update: bool = False) -> Conversation:
    """The conversation of the agent's enterprise with that id, with its visitor and assignee; locked for
    the caller's transaction with `for_update` (then call it inside transaction.atomic)."""
    pk = _pk(conversation_id)
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
    pk = _pk(agent_id)
    if pk is not None and agent.enterprise_id is not None:
        colleague = User.objects.filter(enterprise_id=agent.enterprise_id, pk=pk, is_active=True).select_related(
            "enterprise"
        )
        found = colleague.first()
        if found is not None:
            return found
    raise not_found(_("Agent"))
