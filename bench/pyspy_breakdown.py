#!/usr/bin/env python3
"""Where a GoFly server's CPU goes, from a py-spy raw profile taken with --gil (bench/profile.sh).

    python bench/pyspy_breakdown.py PROFILE.gil.txt [--rate HZ --messages N --seconds S]

Each sample is put in the first bucket whose marker appears in its stack (most specific first). With
--messages (messages handled while profiling) it also prints milliseconds of GIL time per message.
"""

from __future__ import annotations

import argparse
import collections
import re

# (bucket, markers): a sample goes to the first bucket any of whose markers is in one of its frames.
BUCKETS: list[tuple[str, tuple[str, ...]]] = [
    ("rate limit (core/ratelimit.py)", ("rate_limit (core/ratelimit.py",)),
    ("DB ping (CONN_HEALTH_CHECKS is_usable)", ("is_usable (django/db/backends",)),
    ("close_old_connections (channels' per-event hop + database_sync_to_async)", ("close_old_connections",)),
    (
        "publish: group_send -> Redis PUBLISH (incl. async_to_sync from the sync thread)",
        ("_publish (chat/realtime/broadcast.py", "group_send (channels_redis"),
    ),
    (
        "ORM and the rest of message_create (INSERT, UPDATE/transaction where present)",
        ("message_create (chat/services.py",),
    ),
    ("other sync DB work (selectors, login, connect)", ("selectors.py", "visitor_login", "agent_from_jwt")),
    ("pub/sub receive + fan-out to consumer queues", ("_do_receiving (channels_redis",)),
    ("presence heartbeat / sweep", ("chat/realtime/heartbeat.py", "chat/realtime/presence.py")),
    (
        "websocket out: send_frame json + daphne/autobahn framing",
        ("send_frame (chat/consumers.py", "handle_reply (daphne", "serverSend"),
    ),
    (
        "websocket in: autobahn parse + daphne -> app queue",
        ("onMessage (daphne", "dataReceived (autobahn", "_onMessageFrame", "processData (autobahn"),
    ),
    (
        "websocket I/O under uvicorn (websockets library)",
        ("websockets/legacy", "websockets/asyncio", "uvicorn/protocols"),
    ),
    (
        "frame parse + consumer dispatch",
        ("ChatConsumer.receive", "websocket_receive (channels", "AsyncConsumer.dispatch", "await_many_dispatch"),
    ),
    ("HTTP (Django/DRF request handling)", ("ASGIHandler", "http_protocol.py")),
    (
        "thread hand-off machinery (asgiref SyncToAsync/AsyncToSync, executor)",
        ("asgiref/sync.py", "concurrent/futures", "threading.py"),
    ),
    ("event loop + twisted reactor (select, callbacks, timers)", ("asyncio/", "twisted/", "selectors.py")),
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("profile")
    parser.add_argument("--rate", type=float, default=250.0, help="py-spy sampling rate (Hz)")
    parser.add_argument("--messages", type=float, default=0, help="messages handled during the profile")
    parser.add_argument("--seconds", type=float, default=0, help="profile duration, for the CPU share")
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()

    buckets: collections.Counter[str] = collections.Counter()
    leaf: collections.Counter[str] = collections.Counter()
    total = 0
    for line in open(args.profile):
        line = line.rstrip()
        if not line:
            continue
        stack, _, n = line.rpartition(" ")
        count = int(n)
        frames = stack.split(";")[1:]
        total += count
        if frames:
            leaf[re.sub(r":\d+\)$", ")", frames[-1])] += count
        for name, markers in BUCKETS:
            if any(m in f for f in frames for m in markers):
                buckets[name] += count
                break
        else:
            buckets["other"] += count
    per = 1000.0 / args.rate
    print(
        f"{total} GIL samples at {args.rate:g} Hz = {total * per / 1000:.2f} s of GIL time"
        + (
            f" over {args.seconds:g} s ({100 * total / args.rate / args.seconds:.0f}% of one core)"
            if args.seconds
            else ""
        )
    )
    header = "| bucket | share |" + (" ms/message |" if args.messages else "")
    print(header)
    print("|---|---|" + ("---|" if args.messages else ""))
    for name, count in buckets.most_common():
        row = f"| {name} | {100 * count / total:.1f}% |"
        if args.messages:
            row += f" {count * per / args.messages:.3f} |"
        print(row)
    if args.messages:
        print(f"| total | 100% | {total * per / args.messages:.3f} |")
    print("\ntop leaf functions:")
    for name, count in leaf.most_common(args.top):
        print(f"  {100 * count / total:5.1f}%  {name}")


if __name__ == "__main__":
    main()
