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
from typing import Any

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
LIVE_ARTIFACTS = ROOT / "test-artifacts" / "live"


def multinode_marks() -> list[Any]:
    """The marks of a test module whose server processes share work (they do only through Redis and a
    server database); with the fixture `server_database` (tests/conftest.py)."""
    return [
        pytest.mark.live,
        pytest.mark.django_db(transaction=True),
        pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="several processes share work only through Redis"),
        pytest.mark.usefixtures("server_database"),
    ]


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


def start_server(
    port: int, *, env: dict[str, str] | None = None, log: Path | None = None, server: str = "daphne"
) -> subprocess.Popen[bytes]:
    """Start `manage.py server -p PORT --server SERVER` against the test database (or `env["DATABASE_URL"]`);
    its output is appended to `log`, so a restarted process writes after the one before."""
    full_env = {**os.environ, "DATABASE_URL": database_url(), **(env or {})}
    full_env.setdefault("GOFLY_HEARTBEAT", "1")
    full_env.setdefault("GOFLY_PRESENCE_TTL", "3")
    # Tests log in from one address, and the failures some of them make on purpose stay in the cache: they
    # must not put a captcha in front of other tests' logins (tests/accounts/test_login_captcha.py sets its own).
    full_env.setdefault("GOFLY_LOGIN_CAPTCHA_AFTER", "1000000")
    out = open(log, "ab") if log else subprocess.DEVNULL
    try:
        return subprocess.Popen(
            [sys.executable, "manage.py", "server", "-p", str(port), "--server", server],
            cwd=ROOT,
            env=full_env,
            stdout=out,
            stderr=out,
        )
    finally:
        if log:
            out.close()  # type: ignore[union-attr]  # the child holds its own copy


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_listening(proc: subprocess.Popen[bytes], port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not listening(port):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"server on {port} did not start (exit {proc.poll()})")
        time.sleep(0.1)


def stop_server(proc: subprocess.Popen[bytes], timeout: float = 10) -> None:
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextmanager
def gofly_server(
    *, env: dict[str, str] | None = None, log: Path | None = None, server: str = "daphne", port: int | None = None
) -> Iterator[str]:
    """Run `manage.py server --server SERVER` on `port` (a free one by default) against the test database;
    yield its base URL."""
    port = port or free_port()
    if log:
        log.write_bytes(b"")
    proc = start_server(port, env=env, log=log, server=server)
    try:
        wait_listening(proc, port)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_server(proc)
