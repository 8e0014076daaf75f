"""Reads of visitors, conversations and messages, always scoped to one enterprise."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Count, Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from core.errors import ChatError, not_found
from enterprises.models import IPBlacklist, block_live, ip_key

from . import frames
from .access import address_blocked_error, blocked_error, visitor_block_active
from .identity import visitor_token_fits
from .models import Conversation, Message, Visitor, visitor_senders


def _messages(queryset: Any) -> Any:
    return queryset.select_related("agent", "visitor")


def _payloads(messages: Iterable[Message]) -> list[dict[str, Any]]:
    return [frames.message_payload(m, m.visitor.visitor_id) for m in messages]


def messages_page(*, visitor: Visitor, before: int | None, limit: int) -> tuple[list[dict[str, Any]], bool]:
    """One page of a visitor's history as agents see it (internal notes included), newest first, strictly
    older than `before`; and whether more exist."""
    return _page(Message.objects.filter(visitor=visitor), before, limit)


def messages_page_for_visitor(*, visitor: Visitor, before: int | None, limit: int) -> tuple[list[dict[str, Any]], bool]:
    """The same page as the visitor sees it: without the agents' internal notes."""
    return _page(Message.objects.for_visitor().filter(visitor=visitor), before, limit)


def _page(qs: Any, before: int | None, limit: int) -> tuple[list[dict[str, Any]], bool]:
    limit = max(1, min(limit, settings.GOFLY["HISTORY_PAGE_MAX"]))
    if before:
        qs = qs.filter(pk__lt=before)
    rows = list(_messages(qs).order_by("-pk")[: limit + 1])
    return _payloads(rows[:limit]), len(rows) > limit


def _after(queryset: Any, after: int) -> tuple[list[dict[str, Any]], bool]:
    """The messages of `queryset` newer than `after`, oldest first, one SYNC_BATCH; and whether more exist."""
    batch = settings.GOFLY["SYNC_BATCH"]
    rows = list(_messages(queryset.filter(pk__gt=after)).order_by("pk")[: batch + 1])
    return _payloads(rows[:batch]), len(rows) > batch


def messages_after_for_visitor(*, visitor_pk: int, after: int) -> tuple[list[dict[str, Any]], bool]:
    """What a visitor missed since `after`: never the agents' internal notes."""
    return _after(Message.objects.for_visitor().filter(visitor_id=visitor_pk), after)


def messages_after_for_enterprise(*, enterprise_id: int, after: int) -> tuple[list[dict[str, Any]], bool]:
    """What an agent missed since `after` across the enterprise."""
    return _after(Message.objects.filter(enterprise_id=enterprise_id), after)


def last_message_id(*, enterprise_id: int) -> int:
    return Message.objects.filter(enterprise_id=enterprise_id).aggregate(last=Max("pk"))["last"] or 0


def _summary(visitor: Visitor, last: Message | None, unread: int, online: bool) -> dict[str, Any]:
    item = frames.visitor_payload(visitor)
    item["last_message"] = (
        {
            "id": last.pk,
            "content": last.content[:200],
            "sender": last.sender,
            "kind": last.kind,
            "created_at": last.created_at.isoformat(),
            # A left message says so in the console's rows; a timeline line names who closed, took, transferred.
            **({"meta": last.meta} if last.meta else {}),
        }
        if last
        else None
    )
    item["unread"] = unread
    item["online"] = online
    return item


_LAST_FIELDS = ("visitor_id", "content", "sender", "kind", "created_at", "meta")
_UNREAD = Q(sender=Message.Sender.VISITOR, read_at__isnull=True)


def visitor_summaries(
    *, enterprise_id: int, visitor_pks: Iterable[int] | None = None, online: set[int] | None = None, limit: int = 200
) -> list[dict[str, Any]]:
    """Visitors as the console lists them: details, last message, unread count, online flag; in 3 queries.

    With `visitor_pks`, those visitors; otherwise the most recently active ones.
    """
    qs = Visitor.objects.filter(enterprise_id=enterprise_id)
    if visitor_pks is not None:
        qs = qs.filter(pk__in=list(visitor_pks))
    visitors = list(qs.order_by("-last_message_at", "-updated_at")[:limit])
    online = online or set()
    return _summaries(visitors, online)


def _summaries(visitors: list[Visitor], online: set[int]) -> list[dict[str, Any]]:
    """The summary line of each visitor, in 2 queries whatever their number."""
    stats = {
        row["visitor_id"]: row
        for row in Message.objects.filter(visitor_id__in=[v.pk for v in visitors])
        .values("visitor_id")
        .annotate(
            last_id=Max("pk"),
            unread=Count("pk", filter=_UNREAD),
            # The newest the visitor may see (their `ready` frame's last_message_id): internal notes left out.
            public_id=Max("pk", filter=Q(sender__in=visitor_senders())),
        )
    }
    last_ids = [row["last_id"] for row in stats.values()]
    last = {m.visitor_id: m for m in Message.objects.filter(pk__in=last_ids).only(*_LAST_FIELDS)} if last_ids else {}
    for visitor in visitors:
        visitor.last_public_message_id = stats.get(visitor.pk, {}).get("public_id") or 0
    return [_summary(v, last.get(v.pk), stats.get(v.pk, {}).get("unread", 0), v.pk in online) for v in visitors]


def _blacklisted(wanted: set[tuple[int, str | None]]) -> set[tuple[int, str | None]]:
    """Which (enterprise, ip_key) pairs fall in one of the enterprise's blacklisted networks; one query."""
    wanted = {(ent, key) for ent, key in wanted if key}
    if not wanted:
        return set()
    match = Q()
    for ent, key in wanted:
        match |= Q(enterprise_id=ent, start__lte=key, end__gte=key)
    ranges: dict[int, list[tuple[str, str]]] = {}
    now = timezone.now()
    for ent, start, end, until in IPBlacklist.objects.filter(match).values_list(
        "enterprise_id", "start", "end", "expires_at"
    ):
        if block_live(until, now):  # the expiry checked here: an OR of it costs more ORM time than it saves
            ranges.setdefault(ent, []).append((start, end))
    return {(ent, key) for ent, key in wanted if key and any(start <= key <= end for start, end in ranges.get(ent, ()))}


@dataclass(frozen=True)
class SocketLookup:
    """What a visitor socket's token claims, and where it connects from."""

    visitor_pk: int
    enterprise_id: int
    ip: str | None
    identity: str = ""  # the token's identity fingerprint (chat.identity.visitor_token_fits)


def visitors_for_sockets(lookups: list[SocketLookup]) -> list[tuple[Visitor, dict[str, Any]] | ChatError]:
    """For each arriving visitor socket, its visitor and their summary line, or the ChatError that refuses
    it (deleted visitor, inactive enterprise, blacklisted IP or visitor); in at most 4 queries for the whole batch.
    """
    visitors = {
        v.pk: v
        for v in Visitor.objects.filter(
            pk__in={lookup.visitor_pk for lookup in lookups}, enterprise__is_active=True
        ).select_related("enterprise", "open_conversation", "open_conversation__assignee", "block")
    }
    blocked = _blacklisted({(lookup.enterprise_id, ip_key(lookup.ip)) for lookup in lookups})
    results: list[Visitor | ChatError] = []
    for lookup in lookups:
        visitor = visitors.get(lookup.visitor_pk)
        if (
            visitor is None
            or visitor.enterprise_id != lookup.enterprise_id
            or not visitor_token_fits(lookup.identity, visitor.enterprise)
        ):
            results.append(not_found(_("Visitor")))
        elif (lookup.enterprise_id, ip_key(lookup.ip)) in blocked:
            results.append(address_blocked_error())
        elif visitor_block_active(visitor) is not None:
            results.append(blocked_error())
        else:
            results.append(visitor)
    found = [result for result in results if isinstance(result, Visitor)]
    summaries = {item["visitor_id"]: item for item in _summaries(found, {v.pk for v in found})}
    return [(result, summaries[result.visitor_id]) if isinstance(result, Visitor) else result for result in results]


# --- conversations ---------------------------------------------------------------------------------

TABS = ("mine", "queue", "open", "closed")
_LIVE = (Conversation.Status.WAITING, Conversation.Status.OPEN)


def _tab(enterprise_id: int, tab: str, agent_pk: int) -> Any:
    qs = Conversation.objects.filter(enterprise_id=enterprise_id)
    if tab == "mine":
        return qs.filter(assignee_id=agent_pk, status=Conversation.Status.OPEN)
    if tab == "queue":
        return qs.filter(status=Conversation.Status.WAITING)
    if tab == "open":
        return qs.filter(status__in=_LIVE)
    return qs.filter(status=Conversation.Status.CLOSED)


def conversation_counts(*, enterprise_id: int, agent_pk: int) -> dict[str, int]:
    """How many conversations each console tab holds; one query."""
    counts = Conversation.objects.filter(enterprise_id=enterprise_id).aggregate(
        mine=Count("pk", filter=Q(assignee_id=agent_pk, status=Conversation.Status.OPEN)),
        queue=Count("pk", filter=Q(status=Conversation.Status.WAITING)),
        open=Count("pk", filter=Q(status__in=_LIVE)),
        closed=Count("pk", filter=Q(status=Conversation.Status.CLOSED)),
    )
    return {tab: counts[tab] or 0 for tab in TABS}


def conversation_rows(conversations: list[Conversation], online: set[int]) -> list[dict[str, Any]]:
    """Conversations as the console lists them, each with its visitor's summary line; 2 more queries."""
    visitors = {c.visitor_id: c.visitor for c in conversations}
    summaries = {item["visitor_id"]: item for item in _summaries(list(visitors.values()), online)}
    rows = []
    for conversation in conversations:
        row = frames.conversation_payload(conversation, conversation.visitor.visitor_id)
        row["visitor"] = summaries[conversation.visitor.visitor_id]
        rows.append(row)
    return rows


def conversations_page(
    *, enterprise_id: int, agent_pk: int, tab: str, online: set[int], before: int | None = None, limit: int = 100
) -> tuple[list[dict[str, Any]], bool]:
    """One page of a console tab: the queue oldest first, the others most recently active first (newest
    conversation first among the closed); and whether more exist. 3 queries."""
    qs = _tab(enterprise_id, tab, agent_pk).select_related("visitor", "assignee")
    if tab == "queue":
        qs = qs.order_by("created_at", "pk")
        if before:
            qs = qs.filter(pk__gt=before)
    else:
        qs = qs.order_by("-pk")
        if before:
            qs = qs.filter(pk__lt=before)
    rows = list(qs[: limit + 1])
    return conversation_rows(rows[:limit], online), len(rows) > limit


READY_MINE, READY_QUEUE, READY_OTHERS = 200, 150, 150


def conversations_for_ready(
    *, enterprise_id: int, agent_pk: int, online: set[int]
) -> tuple[list[dict[str, Any]], bool, dict[str, int]]:
    """What an agent socket starts from: the agent's open conversations, the oldest of the queue and the
    most recent of the others', each part bounded (a socket frame is limited to 1 MB, and a queue of
    thousands would pass it); whether some were left out; and every tab's count. 6 queries."""
    base = Conversation.objects.filter(enterprise_id=enterprise_id).select_related("visitor", "assignee")
    parts = [
        (base.filter(assignee_id=agent_pk, status=Conversation.Status.OPEN).order_by("-pk"), READY_MINE),
        (base.filter(status=Conversation.Status.WAITING).order_by("created_at", "pk"), READY_QUEUE),
        (
            base.filter(status=Conversation.Status.OPEN).exclude(assignee_id=agent_pk).order_by("-pk"),
            READY_OTHERS,
        ),
    ]
    chosen: list[Conversation] = []
    more = False
    for queryset, cap in parts:
        rows = list(queryset[: cap + 1])
        more = more or len(rows) > cap
        chosen += rows[:cap]
    return conversation_rows(chosen, online), more, conversation_counts(enterprise_id=enterprise_id, agent_pk=agent_pk)


def conversations_of_visitor(*, visitor: Visitor, limit: int = 50) -> list[dict[str, Any]]:
    """The visitor's conversations, newest first (the details panel's "earlier conversations")."""
    rows = Conversation.objects.filter(visitor=visitor).select_related("assignee").order_by("-pk")[:limit]
    return [frames.conversation_payload(c, visitor.visitor_id) for c in rows]


def queue_position(conversation: Conversation) -> int | None:
    """1 for the next in the queue; None unless the conversation waits. One query."""
    if conversation.status != Conversation.Status.WAITING:
        return None
    ahead = Conversation.objects.filter(
        Q(created_at__lt=conversation.created_at) | Q(created_at=conversation.created_at, pk__lt=conversation.pk),
        enterprise_id=conversation.enterprise_id,
        status=Conversation.Status.WAITING,
    ).count()
    return ahead + 1


def messages_of_conversation(
    *, conversation: Conversation, before: int | None, limit: int
) -> tuple[list[dict[str, Any]], bool]:
    """One page of a conversation's timeline, newest first, strictly older than `before`."""
    return _page(Message.objects.filter(conversation=conversation), before, limit)


def open_loads(agent_pks: list[int]) -> dict[int, int]:
    """How many open conversations each of these agents has (agents with none are left out); one query."""
    rows = (
        Conversation.objects.filter(assignee_id__in=agent_pks, status=Conversation.Status.OPEN)
        .values("assignee_id")
        .annotate(n=Count("pk"))
        .values_list("assignee_id", "n")
    )
    return dict(rows)


def agents_roster(*, enterprise_id: int, online: set[int]) -> list[dict[str, Any]]:
    """The enterprise's active agents with their status and load, online ones first; 2 queries."""
    agents = list(User.objects.filter(enterprise_id=enterprise_id, is_active=True).select_related("enterprise"))
    loads = open_loads([a.pk for a in agents])
    roster = [frames.agent_status_payload(a, online=a.pk in online, load=loads.get(a.pk, 0)) for a in agents]
    order = {"online": 0, "away": 1, "offline": 2}
    return sorted(roster, key=lambda item: (order.get(item["status"], 3), item["load"], item["name"]))
