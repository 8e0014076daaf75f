"""Merging two visitors of one enterprise into one: a web visitor who turns out to be a channel's (a WeChat
follower who opened the chat page inside WeChat) brings their history to that visitor, and is retired.

What moves: conversations (the live one too, unless the visitor kept has one: then the moved one is closed by
the system), messages (their ids are kept, so the history reads in the order it was written), uploads, the
page trail, tags, a block. Then the merged visitor's row is deleted: its token, its public id and its socket
name nobody any more, and the agents hear `visitor.cleared` for it (their consoles drop it). A socket another
tab still holds on it is not closed here: it finds its visitor gone as after any deletion.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import not_found

from .. import frames
from ..models import Attachment, Conversation, Message, Visitor, VisitorBlock, VisitorPage, VisitorTag
from ..realtime.broadcast import publish_on_commit

logger = logging.getLogger(__name__)

# Only a plain web visitor is merged away: a channel's visitor is that channel's (a follower), and a visitor
# whose identity the operator signed is the operator's user, never someone else's by a channel's word.
MERGEABLE_CHANNEL = "web"


def visitor_merge(*, source: Visitor, into: Visitor) -> bool:
    """Move `source`'s history to `into` (same enterprise) and delete `source`; whether anything was merged.
    Idempotent: a retry after the merge (source gone), `source` being `into`, a channel visitor or a verified
    identity as `source` merge nothing. Both rows are locked (in pk order, so two merges never deadlock).
    Raises ChatError not_found when the two are of different enterprises."""
    if source.enterprise_id != into.enterprise_id:
        raise not_found(_("Visitor"))
    if source.pk == into.pk:
        return False
    with transaction.atomic():
        locked = {
            row.pk: row
            for row in Visitor.objects.select_for_update()
            .filter(enterprise_id=into.enterprise_id, pk__in=[source.pk, into.pk])
            .order_by("pk")
        }
        gone, kept = locked.get(source.pk), locked.get(into.pk)
        if gone is None or kept is None:
            return False  # merged already (a retry), or deleted meanwhile
        if gone.channel != MERGEABLE_CHANNEL or gone.identity_verified:
            return False
        _conversations_move(gone, kept)
        Message.objects.filter(visitor_id=gone.pk).update(visitor_id=kept.pk)
        Attachment.objects.filter(visitor_id=gone.pk).update(visitor_id=kept.pk)
        VisitorPage.objects.filter(visitor_id=gone.pk).update(visitor_id=kept.pk)
        tagged = VisitorTag.objects.filter(visitor_id=kept.pk).values_list("tag_id", flat=True)
        VisitorTag.objects.filter(visitor_id=gone.pk).exclude(tag_id__in=list(tagged)).update(visitor_id=kept.pk)
        if not VisitorBlock.objects.filter(visitor_id=kept.pk).exists():
            VisitorBlock.objects.filter(visitor_id=gone.pk).update(visitor_id=kept.pk)  # no escaping a block
        last = Message.objects.filter(visitor_id=kept.pk).aggregate(last=Max("created_at"))["last"]
        Visitor.objects.filter(pk=kept.pk).update(
            last_message_at=last, visits=kept.visits + gone.visits, updated_at=timezone.now()
        )
        gone.delete()
        # The agents' consoles drop the retired visitor (its history is the kept one's now, on its next load).
        publish_on_commit([(frames.group_agents(kept.enterprise_id), frames.visitor_cleared_frame(gone.visitor_id))])
    into.last_message_at = last
    logger.info("visitor %s of enterprise %s merged into %s", source.pk, into.enterprise_id, into.pk)
    return True


def _conversations_move(gone: Visitor, kept: Visitor) -> None:
    live = Conversation.objects.filter(open_visitor_id=gone.pk).first()
    if live is not None and Conversation.objects.filter(open_visitor_id=kept.pk).exists():
        now = timezone.now()
        Conversation.objects.filter(pk=live.pk).update(
            open_visitor=None,
            status=Conversation.Status.CLOSED,
            closed_at=now,
            closed_by=Conversation.ClosedBy.SYSTEM,
            last_activity_at=now,
        )
    elif live is not None:
        Conversation.objects.filter(pk=live.pk).update(open_visitor_id=kept.pk)
    Conversation.objects.filter(visitor_id=gone.pk).update(visitor_id=kept.pk)
