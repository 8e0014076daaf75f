"""Real GoFly server processes for live and browser tests, on the test database the test already uses."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def database_url() -> str:
    """A URL for the database the running test uses (pytest-django's test database)."""
    conf = connection.settings_dict
    if conf["ENGINE"] == "django.db.backends.sqlite3":
        name = conf["NAME"]
        if not name or "memory" in str(name):
            raise RuntimeError("live servers need a file database; run with DATABASE_URL or --create-db")
        return f"sqlite:///{name}"
    password = f":{conf['PASSWORD']}" if conf["PASSWORD"] else ""
    return f"mysql://{conf['USER']}{password}@{conf['HOST'] or '127.0.0.1'}:{conf['PORT'] or 3306}/{conf['NAME']}"


@contextmanager
def gofly_server(
    *, env: dict[str, str] | None = None, log: Path | None = None, server: str = "daphne"
) -> Iterator[str]:
    """Run `manage.py server --server SERVER` on a free port against the test database; yield its base URL."""
    port = free_port()
    full_env = {**os.environ, "DATABASE_URL": database_url(), **(env or {})}
    full_env.setdefault("GOFLY_HEARTBEAT", "1")
    full_env.setdefault("GOFLY_PRESENCE_TTL", "3")
    out = open(log, "wb") if log else subprocess.DEVNULL
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "server", "-p", str(port), "--server", server],
        cwd=ROOT,
        env=full_env,
        stdout=out,
        stderr=out,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"server on {port} did not start (exit {proc.poll()})") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        if log:
            out.close()  # type: ignore[union-attr]
