"""Statistics on a seeded data set whose right answers are worked out by hand below, in the enterprise's
time zone (Asia/Shanghai, UTC+8): days begin at local midnight, not at UTC's."""

from __future__ import annotations

import csv
import io
import zoneinfo
from datetime import date, datetime, timedelta
from itertools import count
from typing import Any

import pytest
from django.test import Client

from accounts.models import User
from accounts.permissions import ROLE_ENTERPRISE_ADMIN
from accounts.services import agent_create, superadmin_create
from chat.models import Conversation, Message, Visitor
from enterprises.models import Enterprise
from stats.models import MessageDay
from stats.rollup import messages_roll_up, messages_roll_up_all
from stats.selectors import percentile, report
from tests.conftest import AGENT_PASSWORD

pytestmark = pytest.mark.django_db

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
D1, D2 = date(2026, 11, 2), date(2026, 11, 3)
_ids = count(1)


def local(day: date, hh: int, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=SHANGHAI)


def visitor(enterprise: Enterprise, first_seen: datetime) -> Visitor:
    created = Visitor.objects.create(enterprise=enterprise, visitor_id=f"v{next(_ids)}", name="V")
    Visitor.objects.filter(pk=created.pk).update(created_at=first_seen)
    return created


def conversation(
    enterprise: Enterprise,
    who: Visitor,
    opened: datetime,
    *,
    agent: User | None = None,
    assigned: float | None = None,
    reply: float | None = None,
    closed: float | None = None,
    closed_by: str = "",
) -> Conversation:
    def after(seconds: float | None) -> datetime | None:
        return None if seconds is None else opened + timedelta(seconds=seconds)

    row = Conversation.objects.create(enterprise=enterprise, visitor=who, status="closed", assignee=agent)
    Conversation.objects.filter(pk=row.pk).update(
        created_at=opened,
        assigned_at=after(assigned),
        first_reply_at=after(reply),
        closed_at=after(closed),
        closed_by=closed_by,
    )
    return row


def message(convo: Conversation, at: datetime, sender: str = "visitor", agent: User | None = None) -> None:
    row = Message.objects.create(
        enterprise_id=convo.enterprise_id,
        visitor_id=convo.visitor_id,
        conversation=convo,
        sender=sender,
        agent=agent,
        content="hi",
        client_id=f"m{next(_ids)}",
    )
    Message.objects.filter(pk=row.pk).update(created_at=at)


@pytest.fixture
def seeded(enterprise: Enterprise) -> dict[str, Any]:
    Enterprise.objects.filter(pk=enterprise.pk).update(time_zone="Asia/Shanghai")
    enterprise.refresh_from_db()
    alice = agent_create(enterprise=enterprise, username="alice", password=AGENT_PASSWORD, nickname="Alice")
    bob = agent_create(enterprise=enterprise, username="bob", password=AGENT_PASSWORD, nickname="=Bob")
    long_ago = local(date(2026, 1, 1), 12)
    old1, old2 = visitor(enterprise, long_ago), visitor(enterprise, long_ago)
    new1, new2 = visitor(enterprise, local(D1, 10, 59)), visitor(enterprise, local(D2, 8, 59))
    # D1: two served conversations.
    c1 = conversation(
        enterprise, old1, local(D1, 10), agent=alice, assigned=30, reply=60, closed=600, closed_by="agent"
    )
    c2 = conversation(enterprise, new1, local(D1, 11), agent=bob, assigned=10, reply=20, closed=300, closed_by="agent")
    # D2: one given up in the queue, one left for later (closed by the inactivity chore) at 23:30 local
    # (15:30 UTC: still D2 here, whatever UTC says).
    c3 = conversation(enterprise, new2, local(D2, 9), closed=120, closed_by="visitor")
    c4 = conversation(enterprise, old2, local(D2, 23, 30), closed=1800, closed_by="system")
    # Outside the range: a minute before it and at the very midnight that ends it.
    conversation(enterprise, old1, local(D1, 0) - timedelta(minutes=1), closed=5, closed_by="system")
    outside = conversation(enterprise, old1, local(D2 + timedelta(days=1), 0), closed=5, closed_by="system")
    for at in (local(D1, 10, 0, 5), local(D1, 10, 1), local(D1, 11, 0, 5)):
        message(c1 if at.hour == 10 else c2, at)
    message(c1, local(D1, 10, 1), "agent", alice)
    message(c1, local(D1, 10, 2), "agent", alice)
    message(c3, local(D2, 9, 0, 5))
    message(c4, local(D2, 23, 59, 30), "agent", bob)
    message(c4, local(D2, 23, 40), "note", alice)  # agents among themselves: not counted
    message(outside, local(D2 + timedelta(days=1), 0, 0, 10))
    messages_roll_up_all()
    return {"alice": alice, "bob": bob}


def test_the_seeded_range_gives_the_numbers_worked_out_by_hand(enterprise, seeded):
    data = report(enterprise=Enterprise.objects.get(pk=enterprise.pk), start=D1, end=D2)
    total = data["total"]
    assert (total["visitors_new"], total["visitors_returning"]) == (2, 2)
    assert (total["conversations_opened"], total["conversations_closed"]) == (4, 4)
    assert (total["left_message"], total["abandoned_in_queue"]) == (1, 1)
    assert (total["messages_visitor"], total["messages_agent"]) == (4, 3)
    # First responses 60 and 20 s: median 40, 90th percentile (nearest rank of 2) 60.
    assert total["first_response"] == {"median": 40.0, "p90": 60.0}
    # Resolutions 600, 300, 120, 1800 s: median (300 + 600) / 2, 90th percentile the 4th of 4.
    assert total["resolution"] == {"median": 450.0, "p90": 1800.0}
    assert total["queue_wait"] == {"median": 20.0, "p90": 30.0}
    day1, day2 = data["days"]
    assert (day1["day"], day1["conversations_opened"], day1["visitors_new"], day1["visitors_returning"]) == (
        "2026-11-02",
        2,
        1,
        1,
    )
    assert (day1["messages_visitor"], day1["messages_agent"]) == (3, 2)
    assert (day2["conversations_opened"], day2["abandoned_in_queue"], day2["left_message"]) == (2, 1, 1)
    assert (day2["messages_visitor"], day2["messages_agent"]) == (1, 1)  # 23:59:30 local is still D2
    assert day2["first_response"] == {"median": None, "p90": None}
    agents = {row["name"]: row for row in data["agents"]}
    assert (agents["Alice"]["conversations_opened"], agents["Alice"]["messages_agent"]) == (1, 2)
    assert agents["Alice"]["first_response"] == {"median": 60.0, "p90": 60.0}
    assert (agents["=Bob"]["messages_agent"], agents["=Bob"]["queue_wait"]["median"]) == (1, 10.0)


def test_the_rollup_counts_each_message_once_and_leaves_unsettled_ones_for_later(enterprise, seeded):
    before = sum(MessageDay.objects.values_list("count", flat=True))
    assert messages_roll_up() == 0  # nothing new: counted once
    assert sum(MessageDay.objects.values_list("count", flat=True)) == before
    convo = Conversation.objects.filter(enterprise=enterprise).first()
    assert convo is not None
    Message.objects.create(
        enterprise=enterprise,
        visitor_id=convo.visitor_id,
        conversation=convo,
        sender="visitor",
        content="now",
        client_id="fresh",
    )
    assert messages_roll_up() == 0  # younger than SETTLE: its insert's neighbours may not have committed yet
    assert sum(MessageDay.objects.values_list("count", flat=True)) == before


def test_percentile_is_the_nearest_rank():
    assert percentile([], 0.9) is None
    assert percentile([5.0], 0.9) == 5.0
    assert percentile([float(n) for n in range(1, 11)], 0.9) == 9.0
    assert percentile([float(n) for n in range(1, 12)], 0.9) == 10.0


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(User.objects.get(pk=user.pk))
    return client


def test_the_admins_page_and_csv_show_their_enterprise_and_the_superadmins_every_one(enterprise, seeded, other_agent):
    boss = agent_create(enterprise=enterprise, username="boss", password=AGENT_PASSWORD, role=ROLE_ENTERPRISE_ADMIN)
    client = signed_in(boss)
    page = client.get("/manage/stats/?start=2026-11-02&end=2026-11-03")
    assert page.status_code == 200
    body = page.content.decode()
    assert 'id="stats-chart-volume"' in body and "vendor/chartjs/chart.umd" in body and "Alice" in body
    answer = client.get("/manage/stats/?start=2026-11-02&end=2026-11-03&format=csv")
    assert answer["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    header, total = rows[0], rows[1]
    assert total[:3] == ["total", "", ""] and total[header.index("conversations_opened")] == "4"
    assert total[header.index("resolution_median_s")] == "450.0"
    names = [row[2] for row in rows if row[0] == "agent"]
    assert "'=Bob" in names  # a name a spreadsheet would run as a formula is written as text
    # Bad ranges are corrected and said, never a 500.
    for query in ("start=2026-13-45", "start=2026-11-05&end=2026-11-01", "start=2020-01-01&end=2026-11-03", "end=x"):
        answer = client.get(f"/manage/stats/?{query}")
        assert answer.status_code == 200 and 'id="stats-problem"' in answer.content.decode(), query
    # Plain agents: no entry. Other enterprises: their own numbers only.
    assert signed_in(seeded["alice"]).get("/manage/stats/").status_code == 403
    globex_boss = agent_create(
        enterprise=other_agent.enterprise, username="gboss", password=AGENT_PASSWORD, role=ROLE_ENTERPRISE_ADMIN
    )
    theirs = signed_in(globex_boss).get("/manage/stats/?start=2026-11-02&end=2026-11-03&format=csv").content
    their_total = list(csv.reader(io.StringIO(theirs.decode("utf-8-sig"))))[1]
    assert their_total[header.index("conversations_opened")] == "0"
    # The superadmin's page in /admin: platform totals and per enterprise.
    root = superadmin_create(username="root", password=AGENT_PASSWORD)
    platform = signed_in(root).get("/admin/stats/messageday/?start=2026-11-02&end=2026-11-03")
    assert platform.status_code == 200 and 'id="stats-enterprises"' in platform.content.decode()
    assert "Acme" in platform.content.decode()
