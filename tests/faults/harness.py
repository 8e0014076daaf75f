"""What the fault tests are made of: a private Redis, TCP proxies that pause, cut and drop, restartable server
processes, and scripted clients that follow docs/protocol.md section 7 to the letter (and nothing more)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from tests.servers import free_port, listening, start_server

CLOSE_NO_RECONNECT = {4403}
PING_EVERY = 2.0
PONG_WITHIN = 3.0
BACKOFF_FIRST = 0.2
BACKOFF_MAX = 2.0


def now() -> float:
    return time.monotonic()


async def wait_for_port(port: int, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = now() + timeout
    while not await asyncio.to_thread(listening, port):
        if (proc is not None and proc.poll() is not None) or now() > deadline:
            raise RuntimeError(f"nothing listens on {port} (exit {proc.poll() if proc else None})")
        await asyncio.sleep(0.05)


class RedisServer:
    """A redis-server of this test alone, on a port of its own, that can be SIGKILLed and started again."""

    def __init__(self, log: Path) -> None:
        self.port = free_port()
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        log.write_bytes(b"")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                stdout=out,
                stderr=out,
            )
        await wait_for_port(self.port, 10, self.proc)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()


class Node:
    """One `manage.py server` process on a fixed port, so that it can be killed and started again there."""

    def __init__(self, name: str, env: dict[str, str], log: Path) -> None:
        self.name = name
        self.port = free_port()
        self.env = env
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        log.write_bytes(b"")

    async def start(self) -> None:
        with open(self.log, "ab") as out:
            out.write(f"\n===== {self.name} starting at {time.strftime('%H:%M:%S')} =====\n".encode())
        # daphne, as deployed; GOFLY_FAULTS_SERVER=uvicorn runs the same scenarios on the other server.
        server = os.environ.get("GOFLY_FAULTS_SERVER", "daphne")
        self.proc = start_server(self.port, env=self.env, log=self.log, server=server)
        await wait_for_port(self.port, 30, self.proc)

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    async def wait_exit(self, timeout: float) -> float | None:
        """Seconds until the process exited, or None when it did not within `timeout` (then it is killed)."""
        assert self.proc is not None
        start = now()
        while self.proc.poll() is None:
            if now() - start > timeout:
                self.proc.kill()
                self.proc.wait()
                return None
            await asyncio.sleep(0.05)
        return now() - start

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=12)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass(eq=False)
class _Pair:
    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def abort(self) -> None:
        for writer in (self.client, self.upstream):
            writer.transport.abort()


class TcpProxy:
    """A TCP proxy on 127.0.0.1 in front of `target_port`.

    * pause: stop forwarding (bytes wait, connections stay open); resume forwards what waited.
    * cut: close every connection and refuse new ones (nothing listens); uncut listens again.
    * drop_up / drop_down: discard the bytes client→server / server→client (a one-way network drop). A
      connection whose end closes while a drop is on is kept half-dead (its peer learns nothing, as on a
      real network) until the drops end.
    """

    def __init__(self, name: str, target_port: int) -> None:
        self.name = name
        self.target_port = target_port
        self.port = free_port()
        self.drop_up = False
        self.drop_down = False
        self._running = asyncio.Event()
        self._running.set()
        self._server: asyncio.Server | None = None
        self._pairs: set[_Pair] = set()
        self._parked: set[_Pair] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port, reuse_address=True)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for pair in list(self._pairs):
            pair.abort()
        self._pairs.clear()
        self._parked.clear()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    async def cut(self) -> None:
        await self.close()

    async def uncut(self) -> None:
        await self.start()

    def reset(self) -> None:
        """A blip: every connection through the proxy is reset at once (the client reconnects at once)."""
        for pair in list(self._pairs):
            pair.abort()
        self._pairs.clear()
        self._parked.clear()

    def drop(self, *, up: bool, down: bool) -> None:
        self.drop_up, self.drop_down = up, down
        if not (up or down):
            for pair in list(self._parked):  # the network is back: the half-dead connections reset
                pair.abort()
                self._pairs.discard(pair)
            self._parked.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", self.target_port), timeout=5
            )
        except (OSError, TimeoutError):
            writer.transport.abort()  # the target is down: like a refused connection for the client
            return
        pair = _Pair(writer, up_writer)
        self._pairs.add(pair)
        pair.tasks = [
            asyncio.create_task(self._pump(reader, up_writer, pair, up=True)),
            asyncio.create_task(self._pump(up_reader, writer, pair, up=False)),
        ]

    async def _pump(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, pair: _Pair, *, up: bool) -> None:
        try:
            while True:
                await self._running.wait()
                data = await src.read(65536)
                if not data:
                    break
                await self._running.wait()
                if self.drop_up if up else self.drop_down:
                    continue
                dst.write(data)
                await dst.drain()
        except (OSError, ConnectionError):
            pass
        if self.drop_up or self.drop_down:
            self._parked.add(pair)
        else:
            pair.abort()
            self._pairs.discard(pair)


@dataclass
class Held:
    id: int
    visitor_id: str
    sender: str
    client_id: str
    how: str  # "new", "history" or "ack"
    at: float


class ChatClient:
    """A client of docs/protocol.md section 7: outbox with client_id, resend after `ready`, ack, dedupe by
    id, order by id, `sync` from the highest id held after every `ready` (again while `more`), reconnect
    with backoff after any close but 4401/4403, application `ping` every 2 s and reconnect when no `pong`
    comes within 3 s."""

    sender = ""
    ws_path = ""

    def __init__(self, name: str, proxy: TcpProxy, interval: float) -> None:
        self.name = name
        self.proxy = proxy
        self.interval = interval
        self.messages: dict[int, Held] = {}
        self.outbox: dict[str, dict[str, Any]] = {}
        self.created: dict[str, float] = {}
        self.acked: dict[str, int] = {}
        self.failed: dict[str, str] = {}
        self.closes: list[int | None] = []
        self.closed_at: list[tuple[float, int | None]] = []
        self.connect_failures = 0
        self.events: list[str] = []
        self.ws: ClientConnection | None = None
        self.ready = False
        self.sending = True
        self.stopped = False
        self.forbidden = False
        self.counter = 0
        self.tasks: list[asyncio.Task[None]] = []
        self.t0 = now()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.proxy.port}"

    def note(self, text: str) -> None:
        self.events.append(f"{now() - self.t0:7.2f} {text}")

    def highest(self) -> int:
        return max(self.messages, default=0)

    def start(self) -> None:
        self.tasks = [asyncio.create_task(self.run()), asyncio.create_task(self.produce())]

    async def stop(self) -> None:
        self.stopped = True
        self.sending = False
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.ws is not None:
            self.ws.transport.abort()

    # --- credentials (sides differ) ---------------------------------------------------------------
    async def credentials(self, http: httpx.AsyncClient) -> str:
        raise NotImplementedError

    async def relogin(self) -> None:
        raise NotImplementedError

    def new_message(self) -> dict[str, Any] | None:
        raise NotImplementedError

    # --- the outbox -------------------------------------------------------------------------------
    async def produce(self) -> None:
        await asyncio.sleep(random.uniform(0, self.interval))
        while self.sending:
            data = self.new_message()
            if data is not None:
                self.outbox[data["client_id"]] = data
                self.created[data["client_id"]] = now()
                if self.ready:
                    await self.send({"type": "message.send", "data": data})
            await asyncio.sleep(self.interval * random.uniform(0.8, 1.2))

    async def send(self, frame: dict[str, Any], ws: ClientConnection | None = None) -> None:
        ws = ws or self.ws
        if ws is None:
            return
        with contextlib.suppress(ConnectionClosed, OSError):
            await ws.send(json.dumps(frame))

    def resend_later(self, client_id: str, ws: ClientConnection) -> None:
        async def later() -> None:
            await asyncio.sleep(1.0)
            if client_id in self.outbox and ws is self.ws and self.ready:
                await self.send({"type": "message.send", "data": self.outbox[client_id]}, ws)

        self.tasks.append(asyncio.create_task(later()))

    # --- the connection ---------------------------------------------------------------------------
    async def run(self) -> None:
        backoff = BACKOFF_FIRST
        async with httpx.AsyncClient(timeout=5) as http:
            while not self.stopped:
                try:
                    url = (
                        self.base.replace("http://", "ws://") + self.ws_path + "?token=" + await self.credentials(http)
                    )
                    ws = await websockets.connect(url, open_timeout=PONG_WITHIN, close_timeout=1, ping_interval=None)
                except (OSError, TimeoutError, InvalidHandshake, httpx.HTTPError, LoginError) as exc:
                    self.connect_failures += 1
                    self.note(f"connect failed: {type(exc).__name__} {exc}")
                else:
                    code = await self.session(ws)
                    self.closes.append(code)
                    self.closed_at.append((now(), code))
                    self.note(f"closed {code}")
                    if code in CLOSE_NO_RECONNECT:
                        self.forbidden = True
                        return
                    if code == 4401:
                        await self.relogin()
                    if self.ready_seen:
                        backoff = BACKOFF_FIRST
                await asyncio.sleep(backoff * random.uniform(0.8, 1.2))
                backoff = min(BACKOFF_MAX, backoff * 2)

    ready_seen = False

    async def session(self, ws: ClientConnection) -> int | None:
        self.ws, self.ready, self.ready_seen = ws, False, False
        self.note("open")
        watchdog = asyncio.create_task(self.keepalive(ws))
        try:
            async for raw in ws:
                await self.on_frame(ws, json.loads(raw))
        except ConnectionClosed:
            pass
        finally:
            watchdog.cancel()
            self.ready = False
            if self.ws is ws:
                self.ws = None
        return ws.close_code

    async def keepalive(self, ws: ClientConnection) -> None:
        self.last_pong = now()
        while True:
            sent = now()
            await self.send({"type": "ping"}, ws)
            await asyncio.sleep(PING_EVERY)
            while self.last_pong < sent:
                if now() - sent > PONG_WITHIN:
                    self.note("no pong: reconnecting")
                    ws.transport.abort()
                    return
                await asyncio.sleep(0.1)

    def hold(self, message: dict[str, Any], how: str) -> None:
        if message["id"] in self.messages:
            return
        self.messages[message["id"]] = Held(
            message["id"], message["visitor_id"], message["sender"], message["client_id"], how, now()
        )

    async def on_frame(self, ws: ClientConnection, frame: dict[str, Any]) -> None:
        kind, data = frame.get("type"), frame.get("data") or {}
        if kind == "ready":
            self.ready = self.ready_seen = True
            self.note(f"ready (last_message_id {data.get('last_message_id')}, holding up to {self.highest()})")
            await self.send({"type": "sync", "data": {"after": self.highest()}}, ws)
            for pending in list(self.outbox.values()):
                await self.send({"type": "message.send", "data": pending}, ws)
        elif kind == "history":
            for message in data["messages"]:
                self.hold(message, "history")
            if data["more"]:
                last = data["messages"][-1]["id"] if data["messages"] else self.highest()
                await self.send({"type": "sync", "data": {"after": last}}, ws)
        elif kind == "message.new":
            self.hold(data, "new")
        elif kind == "message.ack":
            entry: dict[str, Any] | None = self.outbox.pop(data["client_id"], None)
            self.acked[data["client_id"]] = data["id"]
            if data.get("duplicate"):
                self.note(f"ack {data['client_id']} id {data['id']} duplicate")
            if entry is not None:
                visitor_id = entry.get("visitor_id") or self.own_visitor_id()
                self.hold(
                    {"id": data["id"], "visitor_id": visitor_id, "sender": self.sender, "client_id": data["client_id"]},
                    "ack",
                )
        elif kind == "pong":
            self.last_pong = now()
        elif kind == "error":
            ref, code = data.get("ref"), data.get("code")
            self.note(f"error {code} ref={ref}: {data.get('message')}")
            if ref in self.outbox:
                if code in {"rate_limited", "server_error"}:
                    self.resend_later(ref, ws)
                else:
                    self.failed[ref] = str(code)
                    del self.outbox[ref]

    def own_visitor_id(self) -> str:
        return ""

    # --- what the test reads ----------------------------------------------------------------------
    def doubled(self) -> int:
        seen: dict[tuple[str, str, str], int] = {}
        for held in self.messages.values():
            key = (held.visitor_id, held.sender, held.client_id)
            seen[key] = seen.get(key, 0) + 1
        return sum(count - 1 for count in seen.values() if count > 1)


class LoginError(Exception):
    pass


class VisitorClient(ChatClient):
    sender = "visitor"
    ws_path = "/ws/visitor"

    def __init__(self, name: str, proxy: TcpProxy, interval: float, enterprise_id: int) -> None:
        super().__init__(name, proxy, interval)
        self.enterprise_id = enterprise_id
        self.token: str | None = None
        self.visitor_id = ""
        self.logged_in = False

    async def credentials(self, http: httpx.AsyncClient) -> str:
        if not self.logged_in:
            body: dict[str, Any] = {"ent_id": str(self.enterprise_id), "kefu_id": "kefu2"}
            if self.token:
                body["token"] = self.token
            answer = await http.post(f"{self.base}/api/v1/visitor/login", json=body)
            if answer.status_code != 200:
                raise LoginError(f"login {answer.status_code}")
            login = answer.json()
            if self.visitor_id and login["visitor"]["visitor_id"] != self.visitor_id:
                self.note(f"login made a NEW visitor {login['visitor']['visitor_id']}")
            self.token, self.visitor_id, self.logged_in = login["token"], login["visitor"]["visitor_id"], True
        assert self.token is not None
        return self.token

    async def relogin(self) -> None:
        self.logged_in = False

    def own_visitor_id(self) -> str:
        return self.visitor_id

    def new_message(self) -> dict[str, Any] | None:
        self.counter += 1
        return {"client_id": f"{self.name}-{self.counter}", "content": f"{self.name} says {self.counter}"}


class AgentClient(ChatClient):
    sender = "agent"
    ws_path = "/ws/agent"

    def __init__(self, name: str, proxy: TcpProxy, interval: float, username: str, password: str) -> None:
        super().__init__(name, proxy, interval)
        self.username, self.password = username, password
        self.access: str | None = None
        self.visitor_ids: list[str] = []

    async def credentials(self, http: httpx.AsyncClient) -> str:
        if self.access is None:
            answer = await http.post(
                f"{self.base}/api/v1/auth/token", json={"username": self.username, "password": self.password}
            )
            if answer.status_code != 200:
                raise LoginError(f"token {answer.status_code}")
            self.access = answer.json()["access"]
        return self.access

    async def relogin(self) -> None:
        self.access = None

    def new_message(self) -> dict[str, Any] | None:
        if not self.visitor_ids:
            return None
        self.counter += 1
        visitor_id = self.visitor_ids[self.counter % len(self.visitor_ids)]
        return {
            "visitor_id": visitor_id,
            "client_id": f"{self.name}-{self.counter}",
            "content": f"reply {self.counter}",
        }


@dataclass
class Figures:
    scenario: str
    created: int
    stored: int
    lost: int
    unacked: int
    refused: int
    doubled: int
    missing: int
    recovery: float | None
    lag_after: float | None
    extra: str = ""

    def line(self) -> str:
        def secs(value: float | None) -> str:
            return "never" if value is None else f"{value:.1f}s"

        return (
            f"{self.scenario}: created={self.created} stored={self.stored} lost={self.lost} "
            f"unacked={self.unacked} refused={self.refused} doubled={self.doubled} missing-at-client={self.missing} "
            f"recovery={secs(self.recovery)} max-lag-after-fault={secs(self.lag_after)}"
            + (f" {self.extra}" if self.extra else "")
        )


def expected_ids(client: ChatClient, rows: Iterable[dict[str, Any]]) -> set[int]:
    if isinstance(client, VisitorClient):
        return {row["id"] for row in rows if row["visitor_id"] == client.visitor_id}
    return {row["id"] for row in rows}


def measure(
    scenario: str, clients: list[ChatClient], rows: list[dict[str, Any]], fault_end: float, extra: str = ""
) -> tuple[Figures, list[str]]:
    """The figures of a run, and the details behind every lost, doubled or missing message."""
    details: list[str] = []
    created_at: dict[tuple[str, str], float] = {}  # client_ids are unique across the clients of a run
    for client in clients:
        for cid, at in client.created.items():
            created_at[(client.sender, cid)] = at
    by_key: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        by_key.setdefault((row["sender"], row["client_id"]), []).append(row)
    created = stored = lost = unacked = refused = 0
    for client in clients:
        for cid in client.created:
            created += 1
            found = by_key.get((client.sender, cid), [])
            if found:
                stored += 1
            if cid in client.failed:
                refused += 1
            if not found or cid not in client.acked:
                lost += 1
                details.append(f"LOST {client.name} {cid}: stored={bool(found)} acked={cid in client.acked}")
            if cid not in client.acked:
                unacked += 1
    doubled = sum(len(found) - 1 for found in by_key.values() if len(found) > 1)
    for key, found in by_key.items():
        if len(found) > 1:
            details.append(f"DOUBLED in the database {key}: ids {[r['id'] for r in found]}")
    row_by_id = {row["id"]: row for row in rows}
    missing = 0
    recovery = 0.0
    lag_after = 0.0
    for client in clients:
        if client.doubled():
            doubled += client.doubled()
            details.append(f"DOUBLED at {client.name}: {client.doubled()}")
        want = expected_ids(client, rows)
        absent = sorted(want - set(client.messages))
        missing += len(absent)
        for mid in absent:
            row = row_by_id[mid]
            made = created_at.get((row["sender"], row["client_id"]))
            elsewhere = [
                f"{other.name}:{held.how}@{held.at - fault_end:+.1f}s"
                for other in clients
                if (held := other.messages.get(mid)) is not None
            ]
            details.append(
                f"MISSING at {client.name} (holds up to {client.highest()}): id {mid} {row['sender']} "
                f"{row['client_id']} of visitor {row['visitor_id'][:8]}, created "
                f"{'?' if made is None else f'{made - fault_end:+.1f}s'} from the fault's end, stored "
                f"{row['created_at'].strftime('%H:%M:%S.%f')[:-3]}; held by {' '.join(elsewhere) or 'nobody'}"
            )
        for mid in want & set(client.messages):
            row = row_by_id[mid]
            at = client.messages[mid].at
            made = created_at.get((row["sender"], row["client_id"]), 0.0)
            if made <= fault_end:
                recovery = max(recovery, at - fault_end)
            else:
                lag_after = max(lag_after, at - made)
    figures = Figures(
        scenario,
        created,
        stored,
        lost,
        unacked,
        refused,
        doubled,
        missing,
        None if missing else recovery,
        None if missing else lag_after,
        extra,
    )
    return figures, details
