"""What sockets missed while their process's channel-layer subscription was away, sent from the database.

redis-py subscribes a broken connection again by itself; whatever was published meanwhile never arrives.
A client cannot see that gap: it may already hold later ids, and `sync` only gives what follows the highest
id it holds. So the process reads, in one query for all its affected sockets, the messages stored since
shortly before the failure, and each socket sends its client those it has not sent (clients drop ids they
hold and order by id, docs/protocol.md section 7).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from channels.db import database_sync_to_async

from . import lifecycle, selectors
from .models import Message

HEAL_MAX = 5000  # messages read at most; a longer gap is left to the clients' reconnect and sync


async def heal(sockets: list[lifecycle.Closable], since: float) -> bool:
    """Send each socket its missing messages stored since `since` (Unix time); False if there were too many."""
    scopes = [socket.heal_scope() for socket in sockets]
    visitor_pks = {pk for kind, pk in scopes if kind == "visitor"}
    enterprise_ids = {pk for kind, pk in scopes if kind == "enterprise"}
    rows = await database_sync_to_async(selectors.messages_since)(
        visitor_pks=visitor_pks,
        enterprise_ids=enterprise_ids,
        since=datetime.fromtimestamp(since, tz=UTC),
        limit=HEAL_MAX,
    )
    if rows is None:
        return False
    by_scope: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for visitor_pk, enterprise_id, payload in rows:
        if visitor_pk in visitor_pks and payload["sender"] != Message.Sender.NOTE:  # agents' notes: never
            by_scope.setdefault(("visitor", visitor_pk), []).append(payload)
        if enterprise_id in enterprise_ids:
            by_scope.setdefault(("enterprise", enterprise_id), []).append(payload)
    for socket, scope in zip(sockets, scopes, strict=True):
        payloads = by_scope.get(scope)
        if payloads:
            await socket.deliver_missing(payloads)
    return True
