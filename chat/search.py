"""Search of the enterprise's visitors and their conversations, for the console's search box.

Matches the public visitor id (whole), the name, the remark name, a tag's name, the IP address (its
beginning) and message text (a `LIKE '%q%'` on message content, newest first and bounded: fine for the
sizes of today, a full-text index is the next step when it is not). Visitors are tenant-scoped, results
are bounded, and the whole search costs at most 5 queries.
"""

from __future__ import annotations

import re
from typing import Any

from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext as _

from core.errors import ChatError

from . import selectors
from .models import Message, Visitor, VisitorTag

QUERY_MAX = 100
RESULTS_MAX = 50
MESSAGES_SCANNED = 500  # the newest matching messages read for snippets and for the visitors they name
_SNIPPET = 80
_IPISH = re.compile(r"[0-9a-fA-F:.]{2,45}")


def _snippet(content: str, q: str) -> str:
    at = content.lower().find(q.lower())
    if at < 0:
        return content[:_SNIPPET]
    start = max(0, at - _SNIPPET // 3)
    text = content[start : start + _SNIPPET]
    return ("…" if start else "") + text + ("…" if start + _SNIPPET < len(content) else "")


def clean_query(q: Any) -> str:
    if q is None:
        return ""
    if not isinstance(q, str) or not q.isprintable():
        raise ChatError("bad_query", _("The search must be text on one line."))
    q = q.strip()
    if len(q) > QUERY_MAX:
        raise ChatError("bad_query", _("The search is limited to %(limit)d characters.") % {"limit": QUERY_MAX})
    return q


def search(*, enterprise_id: int, q: str, tag_id: int | None, online: set[int]) -> list[dict[str, Any]]:
    """Visitor summaries (selectors.visitor_summaries) matching `q` and carrying `tag_id` (if given), most
    recently active first, at most RESULTS_MAX; each with `match`: the snippet of the newest matching
    message, or null when the visitor matched by who they are."""
    if not q and tag_id is None:
        return []
    visitors = Visitor.objects.filter(enterprise_id=enterprise_id)
    if tag_id is not None:
        visitors = visitors.filter(Exists(VisitorTag.objects.filter(visitor=OuterRef("pk"), tag_id=tag_id)))
    snippets: dict[int, str] = {}
    if q:
        who = (
            Q(visitor_id=q)
            | Q(name__icontains=q)
            | Q(real_name__icontains=q)
            | Q(Exists(VisitorTag.objects.filter(visitor=OuterRef("pk"), tag__name__icontains=q)))
        )
        if _IPISH.fullmatch(q):
            who |= Q(ip__startswith=q)
        # Text messages of every sender, notes included (this is the agents' search), events left out.
        messages = Message.objects.filter(enterprise_id=enterprise_id, content__icontains=q).exclude(
            kind=Message.Kind.EVENT
        )
        if tag_id is not None:
            messages = messages.filter(Exists(VisitorTag.objects.filter(visitor=OuterRef("visitor_id"), tag_id=tag_id)))
        for visitor_pk, content in messages.order_by("-pk").values_list("visitor_id", "content")[:MESSAGES_SCANNED]:
            if visitor_pk not in snippets:
                snippets[visitor_pk] = _snippet(content, q)
        visitors = visitors.filter(who | Q(pk__in=list(snippets)[:RESULTS_MAX]))
    found = list(visitors.order_by("-last_message_at", "-updated_at").values_list("pk", "visitor_id")[:RESULTS_MAX])
    results = selectors.visitor_summaries(
        enterprise_id=enterprise_id, visitor_pks=[pk for pk, _id in found], online=online
    )
    match = {public_id: snippets.get(pk) for pk, public_id in found}
    for item in results:
        item["match"] = match.get(item["visitor_id"])
    return results
