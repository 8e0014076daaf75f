#!/usr/bin/env python3
"""The floor of a visitor's connect on this stack: server CPU per HTTP login and per websocket connect
for applications that do nothing (bench/floor_apps.py) under daphne on uvloop, as `manage.py server`
runs it. `python bench/floor.py [N]` (default 2,000 of each, 50 in flight; about a minute)."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import websockets

ROOT = Path(__file__).resolve().parent.parent
DAPHNE = """
import asyncio, sys, uvloop
asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
sys.path[:0] = [{root!r}, {bench!r}]
from daphne.cli import CommandLineInterface
CommandLineInterface().run(["-b", "127.0.0.1", "-p", "{port}", "--access-log", "/dev/null", "floor_apps:{app}"])
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def measure(pid: int, port: int, n: int) -> tuple[float, float]:
    server = psutil.Process(pid)

    def cpu() -> float:
        t = server.cpu_times()
        return t.user + t.system

    sem = asyncio.Semaphore(50)
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=50), trust_env=False) as client:

        async def login() -> None:
            async with sem:
                response = await client.post(f"http://127.0.0.1:{port}/api/v1/visitor/login", json={"ent_id": 1})
                response.raise_for_status()

        before = cpu()
        await asyncio.gather(*(login() for _ in range(n)))
        http_ms = 1000 * (cpu() - before) / n
    sockets = []

    async def connect() -> None:
        async with sem:
            ws = await websockets.connect(f"ws://127.0.0.1:{port}/ws/visitor", compression=None, proxy=None)
            await ws.recv()
            sockets.append(ws)

    before = cpu()
    await asyncio.gather(*(connect() for _ in range(n)))
    ws_ms = 1000 * (cpu() - before) / n
    for ws in sockets:
        await ws.close()
    return http_ms, ws_ms


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    if not 1 <= n <= 10000:
        sys.exit("N must be 1 to 10,000")
    print(f"server CPU per visitor, {n} logins then {n} websockets, 50 in flight, daphne on uvloop")
    for app, name in (("raw", "plain ASGI"), ("django_app", "Django view + Channels consumer, GoFly's middleware")):
        port = free_port()
        env = {**os.environ, "GOFLY_FLOOR_APP": "django" if app == "django_app" else ""}
        code = DAPHNE.format(root=str(ROOT), bench=str(ROOT / "bench"), port=port, app=app)
        proc = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=ROOT, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                    break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        sys.exit(f"{name}: the server did not start")
                    time.sleep(0.2)
            http_ms, ws_ms = asyncio.run(asyncio.wait_for(measure(proc.pid, port, n), 600))
            print(f"{name:55} login {http_ms:5.2f} ms + socket {ws_ms:5.2f} ms = {http_ms + ws_ms:5.2f} ms")
        finally:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    main()
