"""The statistics report of an enterprise (or of the platform) for a range of days in its time zone.

Messages come from the daily rollup (stats.MessageDay, up to about a minute behind); conversations, their
visitors and their times from the conversations opened in the range, read as they are. Times are in
seconds: first response (opened → first agent reply), resolution (opened → closed) and queue wait (opened
→ given to an agent), as the median and the 90th percentile (nearest rank) of those that have one.
A conversation counts on the day it was opened, and for the agent who holds it (the last assignee).
"""

from __future__ import annotations

import math
import statistics
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Func, IntegerField, Sum

from accounts.models import User
from chat.models import Conversation, Message
from enterprises.models import Enterprise

from .models import MessageDay

RANGE_MAX_DAYS = 366


def percentile(values: list[float], share: float) -> float | None:
    """Nearest rank: the smallest value with at least `share` of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def _summary(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"median": None, "p90": None}
    return {"median": round(statistics.median(values), 1), "p90": round(percentile(values, 0.9) or 0, 1)}


@dataclass
class _Bucket:
    """What is counted per day, per agent and in all."""

    opened: int = 0
    closed: int = 0
    left_message: int = 0
    abandoned: int = 0
    messages_visitor: int = 0
    messages_agent: int = 0
    visitors_new: set[int] = field(default_factory=set)
    visitors_returning: set[int] = field(default_factory=set)
    first_response: list[float] = field(default_factory=list)
    resolution: list[float] = field(default_factory=list)
    queue_wait: list[float] = field(default_factory=list)

    def row(self) -> dict[str, Any]:
        return {
            "visitors_new": len(self.visitors_new),
            "visitors_returning": len(self.visitors_returning),
            "conversations_opened": self.opened,
            "conversations_closed": self.closed,
            "left_message": self.left_message,
            "abandoned_in_queue": self.abandoned,
            "messages_visitor": self.messages_visitor,
            "messages_agent": self.messages_agent,
            "first_response": _summary(self.first_response),
            "resolution": _summary(self.resolution),
            "queue_wait": _summary(self.queue_wait),
        }


def zone_of(enterprise: Enterprise | None) -> zoneinfo.ZoneInfo:
    name = enterprise.time_zone if enterprise is not None else settings.TIME_ZONE
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo(settings.TIME_ZONE)


class Epoch(Func):
    """A datetime column as whole seconds since 1970 (UTC, as stored): a hundred thousand rows come back as
    integers, several times cheaper to fetch than datetimes (bench/stats_report.py)."""

    output_field = IntegerField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        # %%%%s: once for the template, once for the backend's placeholder pass; SQLite sees %s.
        template = "CAST(strftime('%%%%s', %(expressions)s) AS INTEGER)"
        return self.as_sql(compiler, connection, template=template, **extra)

    def as_mysql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        # TIMESTAMPDIFF is arithmetic on the stored (UTC) value; UNIX_TIMESTAMP would read it in the
        # session's time zone.
        template = "TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', %(expressions)s)"
        return self.as_sql(compiler, connection, template=template, **extra)


class _Days:
    """The local day of an epoch second, cached per quarter of an hour (every time zone's offset changes
    on a quarter hour), so a hundred thousand rows cost a few hundred tz conversions."""

    def __init__(self, zone: zoneinfo.ZoneInfo) -> None:
        self.zone = zone
        self.cache: dict[int, date] = {}

    def of(self, epoch: int) -> date:
        quarter = epoch // 900
        day = self.cache.get(quarter)
        if day is None:
            day = self.cache[quarter] = datetime.fromtimestamp(quarter * 900, self.zone).date()
            # The quarter's first second is its day unless midnight falls inside it (never: offsets and
            # midnights are on quarter hours).
        return day


_VISITOR = Conversation.ClosedBy.VISITOR


def _count_conversation(bucket: _Bucket, row: tuple[Any, ...], visitor_new: bool) -> None:
    _ent, visitor_id, _agent, opened, assigned, replied, closed, closed_by, _seen = row
    bucket.opened += 1
    (bucket.visitors_new if visitor_new else bucket.visitors_returning).add(visitor_id)
    if closed is not None:
        bucket.closed += 1
        bucket.resolution.append(max(0, closed - opened))
        if replied is None and assigned is None:
            # Never served: a visitor who gave up waiting, or one who wrote while nobody served (closed
            # by the inactivity chore): their message was left for later.
            if closed_by == _VISITOR:
                bucket.abandoned += 1
            else:
                bucket.left_message += 1
    if replied is not None:
        bucket.first_response.append(max(0, replied - opened))
    if assigned is not None:
        bucket.queue_wait.append(max(0, assigned - opened))


def report(*, enterprise: Enterprise | None, start: date, end: date) -> dict[str, Any]:
    """Days `start` to `end` (both included) of `enterprise` (None: every enterprise, in the server's time
    zone): per day, per agent and in all; for the platform, per enterprise too. Times in whole seconds."""
    zone = zone_of(enterprise)
    since = datetime.combine(start, time.min, tzinfo=zone)
    until = datetime.combine(end + timedelta(days=1), time.min, tzinfo=zone)
    days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    per_day = {day: _Bucket() for day in days}
    per_agent: dict[int, _Bucket] = defaultdict(_Bucket)
    per_enterprise: dict[int, _Bucket] = defaultdict(_Bucket)
    total = _Bucket()

    conversations = Conversation.objects.filter(created_at__gte=since, created_at__lt=until)
    messages = MessageDay.objects.filter(day__gte=start, day__lte=end)
    if enterprise is not None:
        conversations = conversations.filter(enterprise=enterprise)
        messages = messages.filter(enterprise=enterprise)
    rows = conversations.annotate(
        e_opened=Epoch("created_at"),
        e_assigned=Epoch("assigned_at"),
        e_replied=Epoch("first_reply_at"),
        e_closed=Epoch("closed_at"),
        e_seen=Epoch("visitor__created_at"),
    ).values_list(
        "enterprise_id",
        "visitor_id",
        "assignee_id",
        "e_opened",
        "e_assigned",
        "e_replied",
        "e_closed",
        "closed_by",
        "e_seen",
    )
    local_day = _Days(zone)
    first_second = int(since.timestamp())
    for row in rows:
        visitor_new = row[8] is not None and row[8] >= first_second
        count = _count_conversation
        count(per_day[local_day.of(row[3])], row, visitor_new)
        count(total, row, visitor_new)
        count(per_enterprise[row[0]], row, visitor_new)
        if row[2] is not None:
            count(per_agent[row[2]], row, visitor_new)

    sums = messages.values("enterprise_id", "day", "agent_pk", "sender").annotate(n=Sum("count"))
    for item in sums:
        field_name = {Message.Sender.VISITOR: "messages_visitor", Message.Sender.AGENT: "messages_agent"}.get(
            item["sender"]
        )
        if field_name is None:
            continue  # notes and timeline lines are not messages between people
        buckets = [per_day[item["day"]], total, per_enterprise[item["enterprise_id"]]]
        if item["agent_pk"]:
            buckets.append(per_agent[item["agent_pk"]])
        for bucket in buckets:
            setattr(bucket, field_name, getattr(bucket, field_name) + item["n"])

    names = dict(User.objects.filter(pk__in=list(per_agent)).values_list("pk", "nickname"))
    usernames = dict(User.objects.filter(pk__in=list(per_agent)).values_list("pk", "username"))
    result: dict[str, Any] = {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "time_zone": str(zone),
        "total": total.row(),
        "days": [{"day": day.isoformat(), **per_day[day].row()} for day in days],
        "agents": sorted(
            (
                {"agent_id": pk, "name": names.get(pk) or usernames.get(pk) or f"#{pk}", **bucket.row()}
                for pk, bucket in per_agent.items()
            ),
            key=lambda item: (-item["conversations_opened"], item["name"]),
        ),
    }
    if enterprise is None:
        enterprise_names = dict(Enterprise.objects.filter(pk__in=list(per_enterprise)).values_list("pk", "name"))
        result["enterprises"] = sorted(
            (
                {"enterprise_id": pk, "name": enterprise_names.get(pk, f"#{pk}"), **bucket.row()}
                for pk, bucket in per_enterprise.items()
            ),
            key=lambda item: (-item["conversations_opened"], item["name"]),
        )
    return result
