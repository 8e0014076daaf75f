"""What sockets missed while their process's channel-layer subscription was away, sent from the database.

redis-py subscribes a broken connection again by itself; whatever was published meanwhile never arrives.
A client cannot see that gap: it may already hold later ids, and `sync` only gives what follows the highest
id it holds. So the process reads, in one query for all its affected sockets, the messages stored since
shortly before the failure, and each socket sends its client those it has not sent (clients drop ids they
hold and order by id, docs/protocol.md section 7).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from channels.db import database_sync_to_async
from django.db.models import Q

from .. import frames
from ..models import Message, visitor_may_see
from . import lifecycle

logger = logging.getLogger(__name__)

HEAL_MAX = 5000  # messages read at most; a longer gap is left to the clients' reconnect and sync


def _messages_since(
    *, visitor_pks: set[int], enterprise_ids: set[int], since: datetime, limit: int
) -> list[tuple[int, int, dict[str, Any]]] | None:
    """(visitor pk, enterprise id, payload) of the messages of those visitors or enterprises stored at or
    after `since`, oldest first; None if there are more than `limit`."""
    if not visitor_pks and not enterprise_ids:
        return []
    # Ids grow with time: the newest message older than `since`, found walking back from the newest
    # (created_at has no index), bounds the scan by primary key.
    floor = Message.objects.filter(created_at__lt=since).order_by("-pk").values_list("pk", flat=True).first() or 0
    rows = list(
        (
            Message.objects.filter(Q(visitor_id__in=visitor_pks) | Q(enterprise_id__in=enterprise_ids), pk__gt=floor)
            .select_related("visitor", "agent")
            .order_by("pk")
        )[: limit + 1]
    )
    if len(rows) > limit:
        return None
    return [(m.visitor_id, m.enterprise_id, frames.message_payload(m, m.visitor.visitor_id)) for m in rows]


async def heal(sockets: list[lifecycle.Closable], since: float) -> bool:
    """Send each socket its missing messages stored since `since` (Unix time); False if there were too many."""
    scopes = [socket.heal_scope() for socket in sockets]
    visitor_pks = {pk for kind, pk in scopes if kind == "visitor"}
    enterprise_ids = {pk for kind, pk in scopes if kind == "enterprise"}
    rows = await database_sync_to_async(_messages_since)(
        visitor_pks=visitor_pks,
        enterprise_ids=enterprise_ids,
        since=datetime.fromtimestamp(since, tz=UTC),
        limit=HEAL_MAX,
    )
    if rows is None:
        return False
    by_scope: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for visitor_pk, enterprise_id, payload in rows:
        if visitor_pk in visitor_pks and visitor_may_see(payload["sender"]):
            by_scope.setdefault(("visitor", visitor_pk), []).append(payload)
        if enterprise_id in enterprise_ids:
            by_scope.setdefault(("enterprise", enterprise_id), []).append(payload)
    for socket, scope in zip(sockets, scopes, strict=True):
        payloads = by_scope.get(scope)
        if payloads:
            await socket.deliver_missing(payloads)
    return True


async def heal_older_than(epoch: int, since: float) -> int:
    """Send the sockets that subscribed before layer epoch `epoch` every message of theirs stored since
    `since` (Unix time) that they have not sent: pushes to them may have been lost while the subscription
    was away, and a client cannot see that gap (it may already hold later ids). Where that is too much to
    read, the sockets are closed with 1012 instead and their clients sync (docs/protocol.md section 7)."""
    sockets = [s for s in lifecycle.live_sockets() if s.layer_epoch < epoch]
    for socket in sockets:
        socket.layer_epoch = epoch
    if not sockets:
        return 0
    try:
        healed = await heal(sockets, since)
    except Exception as exc:  # the database is away too, or the gap is too long: the clients sync
        logger.warning("could not fill the layer gap of %d sockets (%r): closing them", len(sockets), exc)
        healed = False
    if not healed:
        await lifecycle.sockets_close(sockets, lifecycle.CLOSE_SERVICE_RESTART, "resync")
    return len(sockets)
