"""Statistics benchmark: an enterprise with 100,000 conversations and 1,000,000 messages over a year on
MariaDB; times the rollup of every message, then the report for 7, 30 and 366 days (median of 5 each).

    .venv/bin/python bench/stats_report.py                      # fresh database gofly_bench_stats, then the timings
    .venv/bin/python bench/stats_report.py --conversations 10000 --messages 100000   # smaller

It drops and recreates the MariaDB database `gofly_bench_stats` (root, no password, 127.0.0.1) and prints
its figures; nothing else is touched. Seeding a million messages takes a minute or two on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DB = "gofly_bench_stats"


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--agents", type=int, default=20)
    args = parser.parse_args()
    if not (0 < args.conversations <= 1_000_000 and 0 < args.messages <= 5_000_000 and 0 < args.days <= 3660):
        parser.error("sizes out of bounds")
    return args


def _fresh_database() -> None:
    subprocess.run(
        [
            "mysql",
            "-h127.0.0.1",
            "-uroot",
            "-e",
            f"DROP DATABASE IF EXISTS {DB}; CREATE DATABASE {DB} CHARACTER SET utf8mb4",
        ],
        check=True,
    )
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        check=True,
        env={**os.environ, "DATABASE_URL": f"mysql://root@127.0.0.1:3306/{DB}"},
    )


def main() -> None:
    args = _args()
    _fresh_database()
    os.environ["DATABASE_URL"] = f"mysql://root@127.0.0.1:3306/{DB}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gofly_site.settings")
    os.environ.setdefault("GOFLY_VAR_DIR", str(ROOT / "bench" / ".var"))
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from accounts.models import User
    from accounts.services import roles_ensure
    from chat.models import Conversation, Message, Visitor
    from enterprises.models import Enterprise
    from stats.rollup import SETTLE, messages_roll_up_all
    from stats.selectors import report

    rng = random.Random(7)
    roles_ensure()
    enterprise = Enterprise.objects.create(name="Bench", time_zone="Asia/Shanghai")
    agents = [
        User.objects.create(username=f"bench{n}", enterprise=enterprise, nickname=f"Agent {n}")
        for n in range(args.agents)
    ]
    end = datetime.now(tz=django.utils.timezone.get_current_timezone()) - SETTLE - timedelta(minutes=1)
    start = end - timedelta(days=args.days)

    t0 = time.perf_counter()
    visitors = Visitor.objects.bulk_create(
        [Visitor(enterprise=enterprise, visitor_id=f"bv{n}", name=f"V{n}") for n in range(args.conversations // 2)],
        batch_size=5000,
    )
    conversations: list[Conversation] = []
    per_day = max(1, args.conversations // args.days)
    for n in range(args.conversations):
        # Opened at 10:00 on its day (created_at, automatic, is set to it below by day-sized UPDATEs).
        opened = start + timedelta(days=min(n // per_day, args.days - 1), hours=10)
        served = rng.random() < 0.85
        conversations.append(
            Conversation(
                enterprise=enterprise,
                visitor=visitors[n % len(visitors)],
                status="closed",
                assignee=rng.choice(agents) if served else None,
                assigned_at=opened + timedelta(seconds=rng.expovariate(1 / 20)) if served else None,
                first_reply_at=opened + timedelta(seconds=rng.expovariate(1 / 45)) if served else None,
                closed_at=opened + timedelta(seconds=rng.expovariate(1 / 900)),
                closed_by="agent" if served else rng.choice(["visitor", "system"]),
            )
        )
    Conversation.objects.bulk_create(conversations, batch_size=5000)
    ids = list(Conversation.objects.filter(enterprise=enterprise).order_by("pk").values_list("pk", "visitor_id"))
    for day in range(args.days):
        last = len(ids) if day == args.days - 1 else (day + 1) * per_day
        slice_ids = [pk for pk, _v in ids[day * per_day : last]]
        if slice_ids:
            Conversation.objects.filter(pk__in=slice_ids).update(created_at=start + timedelta(days=day, hours=10))
    seeded_conversations = time.perf_counter() - t0

    t0 = time.perf_counter()
    batch: list[Message] = []
    made = 0
    while made < args.messages:
        pk, visitor_pk = ids[made % len(ids)]
        sender = "visitor" if made % 2 else "agent"
        batch.append(
            Message(
                enterprise=enterprise,
                visitor_id=visitor_pk,
                conversation_id=pk,
                sender=sender,
                agent=agents[made % len(agents)] if sender == "agent" else None,
                content="bench",
                client_id=f"b{made}",
            )
        )
        made += 1
        if len(batch) == 10_000:
            Message.objects.bulk_create(batch)
            batch = []
    if batch:
        Message.objects.bulk_create(batch)
    # Spread the messages over the year the same way (created_at is auto_now_add).
    per_day = max(1, args.messages // args.days)
    first = Message.objects.order_by("pk").values_list("pk", flat=True).first() or 0
    for day in range(args.days):
        low, high = first + day * per_day, first + (day + 1) * per_day
        Message.objects.filter(pk__gte=low, pk__lt=high).update(created_at=start + timedelta(days=day, hours=12))
    seeded_messages = time.perf_counter() - t0

    t0 = time.perf_counter()
    counted = messages_roll_up_all()
    rolled = time.perf_counter() - t0

    print(
        f"seeded {len(ids):,} conversations in {seeded_conversations:.1f} s, {made:,} messages in {seeded_messages:.1f} s"
    )
    print(f"rollup: {counted:,} messages counted in {rolled:.1f} s ({counted / rolled:,.0f} per second)")
    today = end.date()
    for days in (7, 30, 366):
        timings = []
        for _ in range(5):
            t0 = time.perf_counter()
            data = report(enterprise=enterprise, start=today - timedelta(days=days - 1), end=today)
            timings.append(time.perf_counter() - t0)
        total = data["total"]
        print(
            f"report {days:>3} days: median {statistics.median(timings) * 1000:.0f} ms (min {min(timings) * 1000:.0f}, "
            f"max {max(timings) * 1000:.0f}); {total['conversations_opened']:,} conversations, "
            f"{total['messages_visitor'] + total['messages_agent']:,} messages"
        )


if __name__ == "__main__":
    main()
