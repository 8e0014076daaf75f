"""Counting new messages into the daily rollup (stats.MessageDay), a batch at a time, once per message.

Messages are taken in id order up to the first one younger than SETTLE seconds: a message whose insert
has not committed yet has an id below those that have, and counting past it would skip it for ever. The
mark row is locked for the batch, so processes that run the chore at the same moment count each message
once. A history an agent clears later stays counted (the days already happened)."""

from __future__ import annotations

import zoneinfo
from collections import Counter
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from chat.models import Message
from enterprises.models import Enterprise

from .models import MessageDay, RollupMark

SETTLE = timedelta(seconds=30)
BATCH = 20000


def _zones(enterprise_ids: set[int]) -> dict[int, zoneinfo.ZoneInfo]:
    zones = {}
    for pk, name in Enterprise.objects.filter(pk__in=enterprise_ids).values_list("pk", "time_zone"):
        try:
            zones[pk] = zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            zones[pk] = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    return zones


def messages_roll_up(*, batch: int = BATCH) -> int:
    """Count the next batch of settled messages; how many were counted (0: nothing new)."""
    try:
        RollupMark.objects.get_or_create(name="messages")
    except IntegrityError:  # another process created it at the same moment
        pass
    cutoff = timezone.now() - SETTLE
    with transaction.atomic():
        mark = RollupMark.objects.select_for_update().get(name="messages")
        rows = list(
            Message.objects.filter(pk__gt=mark.last_id)
            .order_by("pk")
            .values_list("pk", "enterprise_id", "created_at", "agent_id", "sender")[:batch]
        )
        settled = []
        for row in rows:
            if row[2] > cutoff:
                break
            settled.append(row)
        if not settled:
            return 0
        zones = _zones({row[1] for row in settled})
        counts = Counter(
            (enterprise_id, created.astimezone(zones[enterprise_id]).date(), agent_id or 0, sender)
            for _pk, enterprise_id, created, agent_id, sender in settled
        )
        for (enterprise_id, day, agent_pk, sender), count in counts.items():
            key = {"enterprise_id": enterprise_id, "day": day, "agent_pk": agent_pk, "sender": sender}
            if not MessageDay.objects.filter(**key).update(count=F("count") + count):
                MessageDay.objects.create(**key, count=count)
        mark.last_id = settled[-1][0]
        mark.save(update_fields=["last_id"])
    return len(settled)


def messages_roll_up_all() -> int:
    """Batches until nothing settled is left (the chore; a fresh install's history at its first run)."""
    total = 0
    while counted := messages_roll_up():
        total += counted
    return total
