#!/usr/bin/env python3
"""GoFly load generator: many visitors and agents on websockets, a fixed message rate, delivery tracking.

One asyncio process (uvloop and orjson when installed). Bounded in count and time, and it only talks to
loopback addresses. See bench/README.md for how to run it and how to read its figures.

    .venv/bin/python bench/load.py --url http://127.0.0.1:8090 --ent-id 1 --agent kefu2 --password secret \
        --visitors 1000 --agents 1 --rate 200 --duration 60 --direction visitor-to-agent --server-pid 1234
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import os
import socket
import sys
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import psutil
from websockets.asyncio.client import ClientConnection, connect

try:
    import orjson

    def loads(raw: str | bytes) -> Any:
        return orjson.loads(raw)

    def dumps(obj: Any) -> str:
        return orjson.dumps(obj).decode()

except ImportError:  # pragma: no cover - the plain library works, only slower

    def loads(raw: str | bytes) -> Any:
        return json.loads(raw)

    def dumps(obj: Any) -> str:
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


MAX_VISITORS = 20_000
MAX_DURATION = 600.0
MAX_RATE = 20_000.0
MAX_GRACE = 120.0
SAMPLE_INTERVAL = 0.5


# --- results bookkeeping ----------------------------------------------------------------------------


@dataclass
class Sent:
    t: float  # time.time() at send (also embedded in the content)
    sender: str
    intended: tuple[str, ...]  # connections that must receive message.new
    echo: tuple[str, ...]  # connections that also get it (the sender's own side)
    acked: float | None = None
    duplicate_ack: bool = False
    rejected: str = ""  # error code when the server refused it (error frame with ref = client_id)


@dataclass
class Stats:
    run: str
    sent: dict[str, Sent] = field(default_factory=dict)
    # client_id -> recipient -> number of message.new received
    got: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    latencies: list[float] = field(default_factory=list)  # intended deliveries, first arrival, seconds
    ack_latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    error_samples: list[str] = field(default_factory=list)
    frames_in: Counter[str] = field(default_factory=Counter)
    send_lag: list[float] = field(default_factory=list)  # how late the generator sent vs its schedule
    timeline: dict[int, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    t0: float = 0.0

    def error(self, code: str, sample: str) -> None:
        self.errors[code] += 1
        if len(self.error_samples) < 10:
            self.error_samples.append(sample[:300])


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 2)


class ProcGroup:
    """A process and its children at creation (uvicorn --workers N): CPU and RSS summed."""

    def __init__(self, pid: int) -> None:
        root = psutil.Process(pid)
        self.procs = [root, *root.children(recursive=True)]

    def cpu_percent(self, interval: None = None) -> float:
        return sum(p.cpu_percent(None) for p in self.procs)

    def memory_info(self) -> Any:
        class _Mem:
            rss = sum(p.memory_info().rss for p in self.procs)

        return _Mem()

    def cpu_times(self) -> Any:
        times = [p.cpu_times() for p in self.procs]

        class _Times:
            user = sum(t.user for t in times)
            system = sum(t.system for t in times)

        return _Times()

    def oneshot(self) -> Any:
        import contextlib

        return contextlib.nullcontext()


# --- connections ------------------------------------------------------------------------------------


@dataclass
class Conn:
    name: str  # "v17" or "a0"
    ws: ClientConnection
    visitor_id: str = ""  # the visitor's public id (visitors only)
    reader: asyncio.Task[None] | None = None


class Generator:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        base = urlsplit(args.url)
        self.http_base = f"{base.scheme}://{base.netloc}"
        self.ws_base = ("wss" if base.scheme == "https" else "ws") + f"://{base.netloc}"
        self.stats = Stats(run=uuid.uuid4().hex[:8])
        self.visitors: list[Conn] = []
        self.agents: list[Conn] = []
        self.connect_times: list[float] = []
        self.login_times: list[float] = []
        self.ws_times: list[float] = []
        self.connect_failures: Counter[str] = Counter()
        self.connect_failure_samples: list[str] = []
        self.closed_unexpectedly: Counter[str] = Counter()
        self._phase = "idle"
        self.samples: list[dict[str, Any]] = []
        self.stopping = False
        self.login_total: float | None = None
        self.cpu_after_logins: dict[str, float] | None = None

    @property
    def phase(self) -> str:
        return self._phase

    @phase.setter
    def phase(self, value: str) -> None:
        """The current phase; also written to --phase-file so a profiler can be started at the right time."""
        self._phase = value
        if self.args.phase_file:
            with open(self.args.phase_file, "w") as fh:
                fh.write(value + "\n")

    # -- frames in --

    def on_frame(self, conn: Conn, raw: str | bytes) -> None:
        now = time.time()
        frame = loads(raw)
        kind = frame.get("type")
        data = frame.get("data") or {}
        st = self.stats
        st.frames_in[kind] += 1
        if kind == "message.new":
            cid = data.get("client_id") or ""
            sent = st.sent.get(cid)
            if sent is None:
                return  # not ours (another run, or a message we never recorded)
            counter = st.got[cid]
            counter[conn.name] += 1
            if counter[conn.name] == 1 and conn.name in sent.intended:
                latency = now - sent.t
                st.latencies.append(latency)
                second = st.timeline[int(now - st.t0)]
                second["delivered"] += 1
                second["lat_max_ms"] = max(second["lat_max_ms"], round(latency * 1000, 1))
        elif kind == "message.ack":
            sent = st.sent.get(data.get("client_id") or "")
            if sent is not None and sent.acked is None:
                sent.acked = now
                sent.duplicate_ack = bool(data.get("duplicate"))
                st.ack_latencies.append(now - sent.t)
                st.timeline[int(now - st.t0)]["acked"] += 1
        elif kind == "error":
            st.error(str(data.get("code")), f"{conn.name}: {data}")
            sent = st.sent.get(data.get("ref") or "")
            if sent is not None:
                sent.rejected = str(data.get("code"))

    async def read_loop(self, conn: Conn) -> None:
        try:
            async for raw in conn.ws:
                self.on_frame(conn, raw)
        except Exception as exc:
            if not self.stopping:
                self.closed_unexpectedly[type(exc).__name__] += 1
        else:
            if not self.stopping:
                self.closed_unexpectedly[f"closed {conn.ws.close_code}"] += 1

    async def open_ws(self, path: str, token: str) -> tuple[ClientConnection, dict[str, Any]]:
        ws = await connect(
            f"{self.ws_base}{path}?token={token}",
            compression=None if not self.args.compression else "deflate",
            ping_interval=None,  # the server pings; we answer
            max_size=32 * 2**20,
            max_queue=None,
            open_timeout=self.args.timeout,
            close_timeout=2,
            user_agent_header="gofly-bench/1",
            proxy=None,  # skips websockets' per-connect scan of the proxy environment variables
        )
        first = loads(await asyncio.wait_for(ws.recv(), self.args.timeout))
        if first.get("type") != "ready":
            await ws.close()
            raise RuntimeError(f"first frame was not ready: {str(first)[:200]}")
        return ws, first

    def connect_failed(self, what: str, exc: BaseException) -> None:
        key = f"{what}: {type(exc).__name__}"
        self.connect_failures[key] += 1
        if len(self.connect_failure_samples) < 10:
            self.connect_failure_samples.append(f"{key}: {str(exc)[:200]}")

    async def login_visitor(self, http: httpx.AsyncClient) -> tuple[dict[str, Any] | None, float]:
        t0 = time.perf_counter()
        try:
            resp = await http.post(
                f"{self.http_base}/api/v1/visitor/login",
                json={"ent_id": str(self.args.ent_id), "kefu_id": self.args.agent},
            )
            if resp.status_code != 200:
                raise RuntimeError(f"HTTP {resp.status_code} {resp.text[:200]}")
            return resp.json(), time.perf_counter() - t0
        except Exception as exc:
            self.connect_failed("login", exc)
            return None, time.perf_counter() - t0

    async def ws_visitor(self, index: int, body: dict[str, Any]) -> float | None:
        t0 = time.perf_counter()
        try:
            ws, _ready = await self.open_ws("/ws/visitor", body["token"])
        except Exception as exc:
            self.connect_failed("websocket", exc)
            return None
        conn = Conn(name=f"v{index}", ws=ws, visitor_id=body["visitor"]["visitor_id"])
        conn.reader = asyncio.create_task(self.read_loop(conn))
        self.visitors.append(conn)
        return time.perf_counter() - t0

    async def connect_visitor(self, http: httpx.AsyncClient, index: int, sem: asyncio.Semaphore) -> None:
        """Log in, then open the socket and wait for `ready`: one visitor arriving."""
        async with sem:
            body, login_s = await self.login_visitor(http)
            if body is None:
                return
            ws_s = await self.ws_visitor(index, body)
        if ws_s is not None:
            self.login_times.append(login_s)
            self.ws_times.append(ws_s)
            self.connect_times.append(login_s + ws_s)

    async def connect_visitors_login_first(self, clients: list[httpx.AsyncClient], sem: asyncio.Semaphore) -> float:
        """All logins first, then all sockets at once (a reconnect storm: visitors that hold a token)."""

        async def login(i: int) -> tuple[dict[str, Any] | None, float]:
            async with sem:
                return await self.login_visitor(clients[i % len(clients)])

        t0 = time.perf_counter()
        logins = await asyncio.gather(*(login(i) for i in range(self.args.visitors)))
        self.login_total = time.perf_counter() - t0
        self.cpu_after_logins = self.cpu_seconds()
        self.phase = "connect"

        async def socket(i: int, body: dict[str, Any], login_s: float) -> None:
            async with sem:
                ws_s = await self.ws_visitor(i, body)
            if ws_s is not None:
                self.login_times.append(login_s)
                self.ws_times.append(ws_s)
                self.connect_times.append(ws_s)

        t1 = time.perf_counter()
        await asyncio.gather(*(socket(i, body, s) for i, (body, s) in enumerate(logins) if body is not None))
        return time.perf_counter() - t1

    async def connect_agents(self, http: httpx.AsyncClient) -> None:
        resp = await http.post(
            f"{self.http_base}/api/v1/auth/token",
            json={"username": self.args.agent, "password": self.args.password},
        )
        if resp.status_code != 200:
            raise SystemExit(f"agent login failed: HTTP {resp.status_code} {resp.text[:300]}")
        access = resp.json()["access"]
        for index in range(self.args.agents):
            ws, _ready = await self.open_ws("/ws/agent", access)
            conn = Conn(name=f"a{index}", ws=ws)
            conn.reader = asyncio.create_task(self.read_loop(conn))
            self.agents.append(conn)

    # -- sampling --

    async def sampler(self, watched: dict[str, psutil.Process]) -> None:
        for proc in watched.values():
            try:
                proc.cpu_percent(None)
            except psutil.Error:
                pass
        psutil.cpu_percent(None)
        ncpu = psutil.cpu_count() or 1
        while True:
            await asyncio.sleep(SAMPLE_INTERVAL)
            sample: dict[str, Any] = {"t": round(time.time() - self.stats.t0, 2), "phase": self.phase}
            # The whole machine (100 % = one core): what the watched processes leave is other load.
            sample["machine"] = (psutil.cpu_percent(None) * ncpu, psutil.virtual_memory().used / 2**20)
            for name, proc in watched.items():
                try:
                    with proc.oneshot():
                        sample[name] = (proc.cpu_percent(None), proc.memory_info().rss / 2**20)
                except psutil.Error:
                    pass
            self.samples.append(sample)

    @staticmethod
    def cpu_ms_per(before: dict[str, float], after: dict[str, float], count: int) -> dict[str, float]:
        return {name: round(1000 * (after[name] - before[name]) / max(count, 1), 2) for name in after if name in before}

    def cpu_seconds(self) -> dict[str, float]:
        out = {}
        for name, proc in self.watched.items():
            try:
                t = proc.cpu_times()
                out[name] = t.user + t.system
            except psutil.Error:
                pass
        return out

    # -- sending --

    async def send_phase(self) -> None:
        args = self.args
        st = self.stats
        senders = self.visitors if args.direction == "visitor-to-agent" else self.agents
        if not senders:
            raise SystemExit("nobody to send from")
        total = int(args.rate * args.duration)
        interval = 1.0 / args.rate
        start = time.perf_counter()
        pad = "x" * max(0, args.size)
        agent_names = tuple(a.name for a in self.agents)
        for k in range(total):
            due = start + k * interval
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                st.send_lag.append(-delay)
                if k % 64 == 0:
                    await asyncio.sleep(0)  # let readers run while catching up
            if args.direction == "visitor-to-agent":
                conn = senders[k % len(senders)]
                intended, echo = agent_names, (conn.name,)
                data: dict[str, Any] = {}
            else:
                conn = senders[k % len(senders)]
                target = self.visitors[k % len(self.visitors)]
                intended, echo = (target.name,), agent_names
                data = {"visitor_id": target.visitor_id}
            cid = f"{st.run}-{k}"
            now = time.time()
            data["client_id"] = cid
            data["content"] = f"bench {cid} t={now:.6f} {pad}"
            st.sent[cid] = Sent(t=now, sender=conn.name, intended=intended, echo=echo)
            st.timeline[int(now - st.t0)]["sent"] += 1
            try:
                await conn.ws.send(dumps({"type": "message.send", "data": data}))
            except Exception as exc:
                st.error("send_failed", f"{conn.name}: {type(exc).__name__} {exc}")
                del st.sent[cid]

    def expected_pairs(self) -> int:
        return sum(len(s.intended) for s in self.stats.sent.values() if not s.rejected)

    def delivered_pairs(self) -> int:
        st = self.stats
        return sum(1 for cid, s in st.sent.items() if not s.rejected for r in s.intended if st.got.get(cid, {}).get(r))

    async def grace(self) -> float:
        """Wait until every intended delivery and every ack arrived, or the grace period ends."""
        t0 = time.perf_counter()
        expected = self.expected_pairs()
        while time.perf_counter() - t0 < self.args.grace:
            if len(self.stats.latencies) >= expected and all(
                s.acked is not None or s.rejected for s in self.stats.sent.values()
            ):
                break
            await asyncio.sleep(0.1)
        return time.perf_counter() - t0

    # -- the run --

    async def run(self) -> dict[str, Any]:
        args = self.args
        st = self.stats
        st.t0 = time.time()
        me = psutil.Process()
        watched: dict[str, psutil.Process] = {"generator": me}
        if args.server_pid:
            watched["server"] = ProcGroup(args.server_pid)  # type: ignore[assignment]
        for proc in psutil.process_iter(["name"]):
            if proc.info["name"] in ("mariadbd", "mysqld"):
                watched.setdefault("mariadb", proc)
            elif proc.info["name"] == "redis-server":
                watched.setdefault("redis", proc)
        self.watched = watched
        sampler = asyncio.create_task(self.sampler(watched))
        cpu0 = me.cpu_times()

        # httpcore scans its whole pool for every request: several small pools cost far less CPU than one big one.
        per_pool = 8
        pools = max(1, (args.concurrency + per_pool - 1) // per_pool)
        limits = httpx.Limits(max_connections=per_pool, max_keepalive_connections=per_pool)
        clients = [httpx.AsyncClient(limits=limits, timeout=args.timeout, trust_env=False) for _ in range(pools)]
        try:
            self.phase = "connect"
            if args.agents:
                await self.connect_agents(clients[0])
            sem = asyncio.Semaphore(args.concurrency)
            c0 = time.perf_counter()
            connect_cpu0 = self.cpu_seconds()
            if args.login_first:
                self.phase = "login"
                connect_total = await self.connect_visitors_login_first(clients, sem)
            else:
                await asyncio.gather(*(self.connect_visitor(clients[i % pools], i, sem) for i in range(args.visitors)))
                connect_total = time.perf_counter() - c0
        finally:
            for client in clients:
                await client.aclose()
        cpu1 = me.cpu_times()
        connect_cpu1 = self.cpu_seconds()
        # Keep visitors in index order so round-robin is stable.
        self.visitors.sort(key=lambda c: int(c.name[1:]))

        result: dict[str, Any] = {
            "run": st.run,
            "config": {
                k: getattr(args, k)
                for k in (
                    "url",
                    "visitors",
                    "agents",
                    "rate",
                    "duration",
                    "direction",
                    "connect_only",
                    "login_first",
                    "concurrency",
                    "size",
                    "grace",
                )
            },
            "connect": {
                "requested": args.visitors,
                "connected": len(self.visitors),
                "agents_connected": len(self.agents),
                "failed": dict(self.connect_failures),
                "failure_samples": self.connect_failure_samples,
                "total_s": round(connect_total, 3),
                "login_first": args.login_first,
                "login_total_s": None if self.login_total is None else round(self.login_total, 3),
                "per_conn_ms": {
                    "p50": ms(pct(self.connect_times, 50)),
                    "p99": ms(pct(self.connect_times, 99)),
                    "max": ms(max(self.connect_times, default=None)),
                },
                "login_ms": {"p50": ms(pct(self.login_times, 50)), "p99": ms(pct(self.login_times, 99))},
                "websocket_ms": {"p50": ms(pct(self.ws_times, 50)), "p99": ms(pct(self.ws_times, 99))},
                "generator_cpu_s": round((cpu1.user + cpu1.system) - (cpu0.user + cpu0.system), 2),
                # CPU time per visitor of each process over the whole connect (login + socket), and with
                # --login-first split in two: robust where wall times swing with the machine's other load.
                "cpu_ms_per_visitor": self.cpu_ms_per(connect_cpu0, connect_cpu1, args.visitors),
            },
        }
        if self.cpu_after_logins is not None:
            result["connect"]["login_cpu_ms_per_visitor"] = self.cpu_ms_per(
                connect_cpu0, self.cpu_after_logins, args.visitors
            )
            result["connect"]["socket_cpu_ms_per_visitor"] = self.cpu_ms_per(
                self.cpu_after_logins, connect_cpu1, args.visitors
            )

        if args.connect_only:
            self.phase = "hold"
            await asyncio.sleep(args.hold)
        else:
            await asyncio.sleep(args.settle)
            self.phase = "send"
            s0 = time.perf_counter()
            cpu2 = me.cpu_times()
            others0 = self.cpu_seconds()
            await self.send_phase()
            send_wall = time.perf_counter() - s0
            cpu3 = me.cpu_times()
            self.phase = "grace"
            grace_used = await self.grace()
            others1 = self.cpu_seconds()
            result["messages"] = self.message_results(send_wall, grace_used)
            # CPU time each process spent from the first send until the last delivery (or the grace end),
            # per message sent: the cost of one message, idle overhead included.
            sent = max(1, result["messages"]["sent"])
            result["messages"]["cpu_ms_per_message"] = {
                name: round(1000 * (others1[name] - others0[name]) / sent, 3) for name in others1 if name in others0
            }
            result["messages"]["generator_cpu_pct"] = round(
                100 * ((cpu3.user + cpu3.system) - (cpu2.user + cpu2.system)) / max(send_wall, 1e-9), 1
            )

        sampler.cancel()
        result["resources"] = self.resource_results()
        result["unexpected_closes"] = dict(self.closed_unexpectedly)
        self.stopping = True
        await self.close_all()
        self.phase = "done"
        return result

    def message_results(self, send_wall: float, grace_used: float) -> dict[str, Any]:
        st = self.stats
        sent = len(st.sent)
        acked = sum(1 for s in st.sent.values() if s.acked is not None)
        rejected = Counter(s.rejected for s in st.sent.values() if s.rejected)
        duplicate_acks = sum(1 for s in st.sent.values() if s.duplicate_ack)
        expected = self.expected_pairs()
        delivered = self.delivered_pairs()
        duplicated = sum(
            1 for cid, s in st.sent.items() for r in (*s.intended, *s.echo) if st.got.get(cid, {}).get(r, 0) > 1
        )
        echo_expected = sum(len(s.echo) for s in st.sent.values() if not s.rejected)
        echo_got = sum(1 for cid, s in st.sent.items() if not s.rejected for r in s.echo if st.got.get(cid, {}).get(r))
        lat = st.latencies
        timeline = [{"s": sec, **dict(counts)} for sec, counts in sorted(st.timeline.items())]
        return {
            "sent": sent,
            "send_wall_s": round(send_wall, 3),
            "achieved_rate": round(sent / send_wall, 1) if send_wall else None,
            "acked": acked,
            "rejected": sum(rejected.values()),
            "rejected_by_code": dict(rejected),
            "duplicate_acks": duplicate_acks,
            "expected_deliveries": expected,
            "delivered": delivered,
            "lost": expected - delivered,
            "duplicated": duplicated,
            "echo_expected": echo_expected,
            "echo_delivered": echo_got,
            "grace_used_s": round(grace_used, 2),
            "latency_ms": {
                "p50": ms(pct(lat, 50)),
                "p95": ms(pct(lat, 95)),
                "p99": ms(pct(lat, 99)),
                "max": ms(max(lat, default=None)),
                "mean": ms(sum(lat) / len(lat)) if lat else None,
            },
            "ack_latency_ms": {"p50": ms(pct(st.ack_latencies, 50)), "p99": ms(pct(st.ack_latencies, 99))},
            "generator_send_lag_ms": {
                "late_sends": len(st.send_lag),
                "p99": ms(pct(st.send_lag, 99)),
                "max": ms(max(st.send_lag, default=None)),
            },
            "errors": dict(st.errors),
            "error_samples": st.error_samples,
            "frames_in": dict(st.frames_in),
            "timeline": timeline,
        }

    def resource_results(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        names = {k for s in self.samples for k in s if k not in ("t", "phase")}
        for name in sorted(names):
            per_phase: dict[str, Any] = {}
            for phase in ("login", "connect", "hold", "send", "grace"):
                rows = [s[name] for s in self.samples if s["phase"] == phase and name in s]
                if not rows:
                    continue
                cpus = [r[0] for r in rows]
                per_phase[phase] = {
                    "cpu_mean_pct": round(sum(cpus) / len(cpus), 1),
                    "cpu_max_pct": round(max(cpus), 1),
                    "rss_max_mb": round(max(r[1] for r in rows), 1),
                }
            rows = [s[name] for s in self.samples if name in s]
            out[name] = {"phases": per_phase, "rss_max_mb": round(max(r[1] for r in rows), 1)}
        return out

    async def close_all(self) -> None:
        conns = [*self.visitors, *self.agents]

        async def close(conn: Conn) -> None:
            try:
                await asyncio.wait_for(conn.ws.close(), 3)
            except Exception:
                pass
            if conn.reader:
                conn.reader.cancel()

        for i in range(0, len(conns), 500):
            await asyncio.gather(*(close(c) for c in conns[i : i + 500]))


# --- output -----------------------------------------------------------------------------------------


def human(result: dict[str, Any]) -> str:
    c = result["config"]
    con = result["connect"]
    lines = [
        f"== {c['visitors']} visitors, {c['agents']} agent conn(s), "
        + ("connect only" if c["connect_only"] else f"{c['rate']} msg/s {c['direction']} for {c['duration']} s")
        + f" (run {result['run']})",
        f"connect: {con['connected']}/{con['requested']} visitors in {con['total_s']} s; per connection p50 "
        f"{con['per_conn_ms']['p50']} ms p99 {con['per_conn_ms']['p99']} ms max {con['per_conn_ms']['max']} ms "
        f"(login p50 {con['login_ms']['p50']} / p99 {con['login_ms']['p99']} ms, websocket p50 "
        f"{con['websocket_ms']['p50']} / p99 {con['websocket_ms']['p99']} ms); generator CPU {con['generator_cpu_s']} s",
    ]
    if con.get("login_first"):
        lines.append(
            f"(login first: {con['requested']} logins took {con['login_total_s']} s; the connect figures above are websockets only)"
        )
    per = con.get("cpu_ms_per_visitor") or {}
    lines.append("CPU ms per visitor (login + socket): " + ", ".join(f"{k} {v}" for k, v in per.items()))
    for part in ("login", "socket"):
        if con.get(f"{part}_cpu_ms_per_visitor"):
            lines.append(
                f"  of which {part}: " + ", ".join(f"{k} {v}" for k, v in con[f"{part}_cpu_ms_per_visitor"].items())
            )
    if con["failed"]:
        lines.append(f"connect failures: {con['failed']}  e.g. {con['failure_samples'][:2]}")
    m = result.get("messages")
    if m:
        lat = m["latency_ms"]
        lines += [
            f"messages: sent {m['sent']} ({m['achieved_rate']} msg/s) acked {m['acked']} rejected {m['rejected']} "
            f"delivered {m['delivered']}/"
            f"{m['expected_deliveries']} lost {m['lost']} duplicated {m['duplicated']} "
            f"(echo {m['echo_delivered']}/{m['echo_expected']}, duplicate acks {m['duplicate_acks']})",
            f"latency send->message.new: p50 {lat['p50']} p95 {lat['p95']} p99 {lat['p99']} max {lat['max']} ms; "
            f"ack p50 {m['ack_latency_ms']['p50']} p99 {m['ack_latency_ms']['p99']} ms",
            f"generator: {m['generator_cpu_pct']}% CPU while sending, late sends {m['generator_send_lag_ms']['late_sends']} "
            f"(max {m['generator_send_lag_ms']['max']} ms)",
        ]
        lines.append(
            "CPU ms per message (first send to last delivery): "
            + ", ".join(f"{k} {v}" for k, v in m.get("cpu_ms_per_message", {}).items())
        )
        if m["errors"]:
            lines.append(f"errors: {m['errors']}  e.g. {m['error_samples'][:2]}")
    for name, res in result["resources"].items():
        phases = "; ".join(
            f"{ph} cpu mean {v['cpu_mean_pct']}% max {v['cpu_max_pct']}%" for ph, v in res["phases"].items()
        )
        lines.append(f"{name}: rss max {res['rss_max_mb']} MB; {phases}")
    if result["unexpected_closes"]:
        lines.append(f"unexpected closes: {result['unexpected_closes']}")
    return "\n".join(lines)


def check_loopback(url: str) -> None:
    host = urlsplit(url).hostname or ""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except socket.gaierror as exc:
        raise SystemExit(f"cannot resolve {host}: {exc}") from None
    for address in addresses:
        if not ipaddress.ip_address(address.split("%")[0]).is_loopback:
            raise SystemExit(
                f"refusing non-loopback target {host} ({address}): this generator only loads 127.0.0.0/8 / ::1"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8090")
    parser.add_argument("--ent-id", required=True)
    parser.add_argument("--agent", default="kefu2", help="agent username (visitors are assigned to it too)")
    parser.add_argument("--password", default=os.environ.get("GOFLY_AGENT_PASSWORD", ""))
    parser.add_argument("--visitors", type=int, default=100)
    parser.add_argument("--agents", type=int, default=1, help="agent websocket connections (same account)")
    parser.add_argument("--rate", type=float, default=100.0, help="messages per second, all senders together")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of sending")
    parser.add_argument("--direction", choices=["visitor-to-agent", "agent-to-visitor"], default="visitor-to-agent")
    parser.add_argument("--connect-only", action="store_true", help="log in and connect, hold, disconnect")
    parser.add_argument(
        "--login-first",
        action="store_true",
        help="all HTTP logins first, then all websockets at once; connect time then counts the websockets only",
    )
    parser.add_argument("--hold", type=float, default=5.0, help="seconds to hold connections (--connect-only)")
    parser.add_argument("--settle", type=float, default=2.0, help="seconds between connecting and sending")
    parser.add_argument("--grace", type=float, default=10.0, help="seconds to wait for late deliveries")
    parser.add_argument("--concurrency", type=int, default=200, help="logins/handshakes in flight at once")
    parser.add_argument("--size", type=int, default=40, help="padding characters per message")
    parser.add_argument("--timeout", type=float, default=30.0, help="per login / handshake timeout, seconds")
    parser.add_argument("--compression", action="store_true", help="offer permessage-deflate like browsers do")
    parser.add_argument("--server-pid", type=int, default=0, help="sample this process's CPU%% and RSS")
    parser.add_argument("--phase-file", default="", help="write the current phase (connect/send/grace/hold/done) here")
    parser.add_argument("--json", action="store_true", help="print the result as JSON on stdout (summary on stderr)")
    args = parser.parse_args()

    check_loopback(args.url)
    if not (0 <= args.visitors <= MAX_VISITORS):
        parser.error(f"--visitors must be within 0..{MAX_VISITORS}")
    if not (0 < args.duration <= MAX_DURATION):
        parser.error(f"--duration must be within (0, {MAX_DURATION}]")
    if not (0 < args.rate <= MAX_RATE):
        parser.error(f"--rate must be within (0, {MAX_RATE}]")
    if not (0 <= args.grace <= MAX_GRACE) or not (0 <= args.hold <= MAX_DURATION):
        parser.error("--grace / --hold out of range")
    if not (1 <= args.agents <= 50):
        parser.error("--agents must be within 1..50")
    if args.direction == "agent-to-visitor" and not args.visitors and not args.connect_only:
        parser.error("agent-to-visitor needs visitors")

    try:
        import uvloop

        runner = uvloop.run
    except ImportError:  # pragma: no cover
        runner = asyncio.run
    # Hard stop: connect + settle + send + grace + hold, plus slack; the run ends on its own regardless.
    deadline = args.timeout * 4 + args.visitors / 10 + args.settle + args.duration + args.grace + args.hold + 60

    async def bounded() -> dict[str, Any]:
        return await asyncio.wait_for(Generator(args).run(), deadline)

    result = runner(bounded())
    summary = human(result)
    if args.json:
        print(summary, file=sys.stderr)
        print(json.dumps(result, indent=1))
    else:
        print(summary)


if __name__ == "__main__":
    main()
