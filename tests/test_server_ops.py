"""`manage.py server` and `stop` as ops use them: ports, pid files, banners, graceful stop, the daemon mode."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from django.conf import settings

from gofly_site import serving
from tests.servers import ROOT, database_url, free_port, gofly_server

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

STOP_BOUND = 5.0  # GOFLY_STOP_TIMEOUT the servers of these tests get


def manage(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "DATABASE_URL": database_url(), "GOFLY_STOP_TIMEOUT": str(STOP_BOUND), **(env or {})}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=timeout
    )


def port_of(base: str) -> int:
    return int(base.rsplit(":", 1)[1])


def wait_until(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.05)


def healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_a_port_out_of_range_is_refused_before_any_url_is_announced():
    result = manage("server", "-p", "99999")
    assert result.returncode != 0
    assert "is not a port number" in result.stderr
    assert "http://" not in result.stdout


def test_a_second_server_on_a_busy_port_fails_and_leaves_the_first_ones_pid_file_so_stop_still_works():
    with gofly_server(env={"GOFLY_STOP_TIMEOUT": str(STOP_BOUND)}) as base:
        port = port_of(base)
        owner = serving.read_pid(serving.pid_file(port))
        assert owner is not None
        second = manage("server", "-p", str(port))
        assert second.returncode != 0
        assert "http://" not in second.stdout  # no banner for a server that never listened
        assert serving.read_pid(serving.pid_file(port)) == owner
        stopped = manage("stop", "-p", str(port))
        assert stopped.returncode == 0, stopped.stderr
        assert not serving.pid_alive(owner)


def test_the_banner_names_the_credentials_file_but_never_a_password(tmp_path):
    var = Path(settings.VAR_DIR)
    credentials = var / "credentials.txt"
    saved = credentials.read_text() if credentials.exists() else None
    credentials.write_text(
        "superadmin   admin / S3cret-admin   (/admin)\nagent        kefu2 / S3cret-agent   (/login)\n"
        "visitor link /chatIndex?kefu_id=kefu2&ent_id=1\n"
    )
    log = tmp_path / "server.log"
    try:
        with gofly_server(log=log) as base:
            wait_until(lambda: "pid file" in log.read_text(), 10, "the banner")
    finally:
        if saved is None:
            credentials.unlink()
        else:
            credentials.write_text(saved)
    banner = log.read_text()
    assert "S3cret" not in banner
    assert str(credentials) in banner
    assert f"{base}/chatIndex?kefu_id=kefu2&ent_id=1" in banner


@pytest.mark.parametrize("server", ["daphne", "uvicorn"])
async def test_sigterm_closes_open_websockets_with_1012_and_the_server_exits_within_the_bound(
    server, enterprise, agent
):
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url(), "GOFLY_STOP_TIMEOUT": str(STOP_BOUND)}
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "server", "-p", str(port), "--server", server],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: healthy(port), 30, "the server answers")
        async with httpx.AsyncClient() as http:
            login = await http.post(
                f"http://127.0.0.1:{port}/api/v1/visitor/login", json={"ent_id": enterprise.pk, "kefu_id": "kefu2"}
            )
        async with websockets.connect(f"ws://127.0.0.1:{port}/ws/visitor?token={login.json()['token']}") as ws:
            await ws.recv()  # ready
            started = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            with pytest.raises(websockets.ConnectionClosed) as closed:
                while True:
                    await ws.recv()
        # 1012 (service restart): from chat.realtime.lifecycle once the consumers register there, else the server.
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012
        proc.wait(timeout=STOP_BOUND + 1)
        assert time.monotonic() - started < STOP_BOUND
        assert proc.returncode == 0
        assert serving.read_pid(serving.pid_file(port)) is None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_stop_returns_within_its_timeout_and_removes_the_pid_file():
    with gofly_server() as base:
        port = port_of(base)
        started = time.monotonic()
        result = manage("stop", "-p", str(port), "--timeout", str(STOP_BOUND + 2))
        took = time.monotonic() - started
        assert result.returncode == 0, result.stderr
        assert took < STOP_BOUND + 2
        assert not serving.pid_file(port).exists()


@pytest.fixture
def daemon_port(tmp_path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    port = free_port()
    env = {"GOFLY_LOG_DIR": str(tmp_path / "logs"), "GOFLY_RESTART_DELAY": "0.3", "GOFLY_RESTART_MAX": "3"}
    yield port, env
    # Whatever the test did, leave no daemon behind.
    for path in (serving.pid_file(port), serving.child_pid_file(port)):
        pid = serving.read_pid(path)
        if pid is not None and serving.pid_alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_the_daemon_restarts_a_killed_server_and_stop_ends_both(daemon_port):
    port, env = daemon_port
    started = manage("server", "-d", "-p", str(port), env=env)
    assert started.returncode == 0, started.stderr
    assert "logs in" in started.stdout
    supervisor = serving.read_pid(serving.pid_file(port))
    assert supervisor is not None and serving.pid_alive(supervisor)
    wait_until(lambda: healthy(port), 30, "the daemon's server answers")
    child = serving.read_pid(serving.child_pid_file(port))
    assert child is not None and child != supervisor

    os.kill(child, signal.SIGKILL)
    wait_until(lambda: serving.read_pid(serving.child_pid_file(port)) not in {None, child}, 30, "a new server")
    wait_until(lambda: healthy(port), 30, "the restarted server answers")
    restarted = serving.read_pid(serving.child_pid_file(port))
    assert restarted is not None

    stopped = manage("stop", "-p", str(port), env=env)
    assert stopped.returncode == 0, stopped.stderr
    assert not serving.pid_alive(supervisor) and not serving.pid_alive(restarted)
    events = (Path(env["GOFLY_LOG_DIR"]) / f"gofly-{port}-supervisor.log").read_text()
    assert f"server pid {child} exited with code -9; restarting" in events
    assert "stopped" in events


def test_the_daemon_gives_up_on_a_server_that_keeps_crashing_at_once(daemon_port):
    port, env = daemon_port
    assert manage("server", "-d", "-p", str(port), env=env).returncode == 0
    supervisor = serving.read_pid(serving.pid_file(port))
    assert supervisor is not None
    wait_until(lambda: healthy(port), 30, "the daemon's server answers")
    child = serving.read_pid(serving.child_pid_file(port))
    assert child is not None
    os.kill(child, signal.SIGKILL)
    # Someone else takes the port: every restarted server fails to bind and exits at once.
    squatter = socket.socket()
    squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        wait_until(lambda: _try_bind(squatter, port), 5, "the port to be free")
        squatter.listen()
        wait_until(lambda: not serving.pid_alive(supervisor), 30, "the supervisor to give up")
    finally:
        squatter.close()
    events = (Path(env["GOFLY_LOG_DIR"]) / f"gofly-{port}-supervisor.log").read_text()
    assert "giving up after 3 restarts" in events
    assert not serving.pid_file(port).exists()


def _try_bind(sock: socket.socket, port: int) -> bool:
    try:
        sock.bind(("127.0.0.1", port))
    except OSError:
        return False
    return True
