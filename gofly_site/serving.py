"""Running GoFly's ASGI servers: bind before claiming the port, own the pid file, stop gracefully within a bound
(websockets closed with 1012 so their clients reconnect elsewhere), and a supervisor for `server -d`."""

from __future__ import annotations

import argparse
import asyncio
import collections
import gc
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from django.conf import settings

from chat.realtime import lifecycle

logger = logging.getLogger("gofly.server")

# Seconds a server may take from SIGTERM to exit before its watchdog ends it (systemd's TimeoutStopSec and
# `manage.py stop --timeout` are set above it).
STOP_TIMEOUT = float(os.environ.get("GOFLY_STOP_TIMEOUT", "10"))
# Of those, how long the messages already received get to be stored and announced after the sockets'
# 1012 closes, before the server stops.
DRAIN_SECONDS = 3.0
# The supervisor of `server -d` gives up after RESTART_MAX restarts within RESTART_WINDOW seconds; the delay
# before a restart doubles with every recent crash, from RESTART_DELAY.
RESTART_MAX = int(os.environ.get("GOFLY_RESTART_MAX", "5"))
RESTART_WINDOW = float(os.environ.get("GOFLY_RESTART_WINDOW", "60"))
RESTART_DELAY = float(os.environ.get("GOFLY_RESTART_DELAY", "1"))
RESTART_DELAY_MAX = 30.0
MANAGE_PY = Path(settings.BASE_DIR) / "manage.py"


class ServeError(Exception):
    """The server cannot start (port taken, bad address, another server owns the pid file)."""


# The cyclic garbage collector's thresholds for a server process (gc.set_threshold): collect the young
# generations less often, so that objects of messages in flight are promoted less and full collections
# (150-250 ms with 1,000 sockets, the event loop stopped) come rarer. bench/README.md has the figures.
GC_THRESHOLD = os.environ.get("GOFLY_GC_THRESHOLD", "1000,50,10")


def tune_gc() -> None:
    try:
        thresholds = tuple(int(part) for part in GC_THRESHOLD.split(","))
        gc.set_threshold(*thresholds)
    except (TypeError, ValueError):
        logger.warning("GOFLY_GC_THRESHOLD=%r is not 1 to 3 integers; keeping %s", GC_THRESHOLD, gc.get_threshold())


def port_number(value: str) -> int:
    """argparse type: a TCP port a server can listen on (0 would pick a random one nobody could find)."""
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port number") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port number (1-65535)")
    return port


def pid_file(port: int) -> Path:
    """One pid file per port, so several servers on one machine can be stopped one by one. Under `server -d`
    it names the supervisor; `stop` signals it and the supervisor stops its server."""
    return Path(settings.VAR_DIR) / f"gofly-{port}.pid"


def child_pid_file(port: int) -> Path:
    """The pid file of the server a supervisor runs (so that ops and tests can find it)."""
    return Path(settings.VAR_DIR) / f"gofly-{port}.child.pid"


def log_dir() -> Path:
    return Path(os.environ.get("GOFLY_LOG_DIR", str(Path(settings.BASE_DIR) / "logs")))


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    try:  # a zombie has exited; only its parent has not reaped it yet
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def claim_pid_file(path: Path) -> None:
    """Write our pid, unless a live process already owns the file: its `stop` must keep working."""
    other = read_pid(path)
    if other is not None and other != os.getpid() and pid_alive(other):
        raise ServeError(f"a GoFly server (pid {other}) already runs for this port (pid file {path})")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(f"{os.getpid()}\n")
    os.replace(tmp, path)  # atomic: `stop` never reads half a pid


def release_pid_file(path: Path, pid: int | None = None) -> None:
    """Remove the pid file only if it still names us (or `pid`): another server may have claimed it since."""
    if read_pid(path) == (pid if pid is not None else os.getpid()):
        path.unlink(missing_ok=True)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port, made before anything announces the server or claims the port."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.set_inheritable(True)
    return sock


def start_watchdog(timeout: float, on_force: Callable[[], None]) -> None:
    """End the process if it has not exited `timeout` seconds after the stop began, whatever it hangs in
    (an application instance that ignores its cancellation, a Redis reconnect, a stuck thread)."""

    def watch() -> None:
        time.sleep(timeout)
        print(f"gofly: still running {timeout:g} s after the stop signal, forcing exit", file=sys.stderr, flush=True)
        on_force()
        os._exit(1)

    threading.Thread(target=watch, name="gofly-stop-watchdog", daemon=True).start()


async def drain(close_others: Callable[[int], None] | None = None) -> None:
    """Close this process's sockets with 1012 (clients reconnect to another process) and give the close
    frames a moment to leave. `close_others` closes the sockets the registry does not know."""
    try:
        # close_all bounds its own wait for the messages in flight; the outer bound is for the closes.
        closing = lifecycle.close_all(lifecycle.CLOSE_SERVICE_RESTART, drain=DRAIN_SECONDS)
        count = await asyncio.wait_for(closing, DRAIN_SECONDS + 1)
        logger.info("closed %d sockets with 1012", count)
    except TimeoutError:
        logger.warning("closing the sockets took over %.0f s; stopping anyway", DRAIN_SECONDS)
    if close_others is not None:
        close_others(lifecycle.CLOSE_SERVICE_RESTART)
    await asyncio.sleep(0.2)


def run_daphne(sock: socket.socket, pid_path: Path) -> None:
    """Daphne on the bound socket, with our signal handling instead of Twisted's (which stops at once)."""
    from daphne.access import AccessLogGenerator
    from daphne.server import Server
    from daphne.ws_protocol import WebSocketProtocol
    from django.conf import settings
    from django.utils.module_loading import import_string
    from twisted.internet import reactor

    application = import_string(settings.ASGI_APPLICATION)  # the site's, which routes to this app

    class GoflyDaphne(Server):  # type: ignore[misc]
        def __init__(self, **kwargs: Any) -> None:
            # Daphne's own endpoints would bind again; we hand Twisted the socket we bound (run()).
            super().__init__(endpoints=["adopted"], signal_handlers=False, **kwargs)
            self.endpoints: list[str] = []
            self.ports: list[Any] = []
            self.stopping = False
            self.stop_task: asyncio.Future[None] | None = None

        def run(self) -> None:
            reactor.callWhenRunning(self.adopt_socket)  # type: ignore[attr-defined]
            super().run()

        def adopt_socket(self) -> None:
            sock.setblocking(False)  # Twisted needs it so, or one accept() blocks the whole loop
            port = reactor.adoptStreamPort(sock.fileno(), sock.family, self.http_factory)  # type: ignore[attr-defined]
            sock.close()  # Twisted listens on a duplicate
            self.listen_success(port)
            self.ports.append(port)
            loop = asyncio.get_event_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self.on_stop_signal)

        def on_stop_signal(self) -> None:
            if self.stopping:  # a second Ctrl-C: the user does not want to wait
                release_pid_file(pid_path)
                os._exit(1)
            self.stopping = True
            start_watchdog(STOP_TIMEOUT, lambda: release_pid_file(pid_path))
            # Load balancers see the port closed and send new connections elsewhere while we drain.
            for port in self.ports:
                port.stopListening()
            self.stop_task = asyncio.ensure_future(self.graceful_stop())

        async def graceful_stop(self) -> None:
            try:
                await drain(self.close_websockets)
            finally:
                self.stop()

        def close_websockets(self, code: int) -> None:
            for protocol in list(self.connections):
                if isinstance(protocol, WebSocketProtocol) and protocol.state == protocol.STATE_OPEN:
                    # Not serverClose(): autobahn's sendClose() refuses 1012 (it allows 1000 and 3000-4999 only).
                    protocol.sendCloseFrame(code=code, isReply=False)

    # The options of daphne's command line as `daphne --websocket_timeout -1 --ping-interval 20` sets them.
    GoflyDaphne(
        application=application,
        ping_interval=20,
        ping_timeout=30,
        websocket_timeout=-1,
        websocket_connect_timeout=5,
        websocket_handshake_timeout=5,
        application_close_timeout=10,
        action_logger=AccessLogGenerator(sys.stdout),
        verbosity=1,
    ).run()


def run_uvicorn(sock: socket.socket, pid_path: Path) -> None:
    """Uvicorn on the bound socket; on SIGTERM our drain first, then its own bounded graceful shutdown
    (which closes the websockets still open with 1012 too)."""
    import uvicorn

    class GoflyUvicorn(uvicorn.Server):
        gofly_stopping = False
        gofly_loop: asyncio.AbstractEventLoop | None = None
        gofly_stop_task: asyncio.Future[None] | None = None

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            self.gofly_loop = asyncio.get_running_loop()
            await super().startup(sockets)

        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            # Not recorded in _captured_signals: uvicorn would raise it again after its shutdown and the
            # process would die by it, before our pid file cleanup.
            if self.gofly_stopping:
                self.force_exit = True
                return
            self.gofly_stopping = True
            start_watchdog(STOP_TIMEOUT, lambda: release_pid_file(pid_path))
            if self.gofly_loop is None:
                self.should_exit = True
                return
            self.gofly_loop.call_soon_threadsafe(self.start_graceful_stop)

        def start_graceful_stop(self) -> None:
            self.gofly_stop_task = asyncio.ensure_future(self.graceful_stop())

        async def graceful_stop(self) -> None:
            await drain()
            self.should_exit = True

    config = uvicorn.Config(
        "gofly_site.asgi:application",
        ws="websockets",
        ws_ping_interval=20,
        ws_ping_timeout=20,
        ws_max_size=1024 * 1024,
        proxy_headers=False,
        lifespan="off",
        log_level="warning",
        timeout_graceful_shutdown=max(1, int(STOP_TIMEOUT - DRAIN_SECONDS - 2)),
    )
    try:
        GoflyUvicorn(config).run(sockets=[sock])
    finally:
        sock.close()


class Supervisor:
    """Runs `manage.py server` as a child and restarts it when it dies, within bounds; forwards SIGTERM."""

    def __init__(self, *, host: str, port: int, server: str) -> None:
        self.host, self.port, self.server = host, port, server
        self.child: subprocess.Popen[bytes] | None = None
        self.stopping = False
        self.events = log_dir() / f"gofly-{port}-supervisor.log"
        self.output = log_dir() / f"gofly-{port}.log"

    def log(self, message: str) -> None:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        with open(self.events, "a") as out:
            out.write(f"{stamp} [supervisor {os.getpid()}] {message}\n")

    def on_signal(self, sig: int, frame: FrameType | None) -> None:
        self.stopping = True
        if self.child is not None and self.child.poll() is None:
            self.child.send_signal(signal.SIGTERM)

    def spawn(self) -> subprocess.Popen[bytes]:
        command = [sys.executable, str(MANAGE_PY), "server", "--host", self.host, "-p", str(self.port)]
        command += ["--server", self.server, "--pid-file", str(child_pid_file(self.port))]
        with open(self.output, "ab") as out:
            return subprocess.Popen(command, cwd=settings.BASE_DIR, stdin=subprocess.DEVNULL, stdout=out, stderr=out)

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self.on_signal)
        claim_pid_file(pid_file(self.port))
        self.log(f"supervising `server --host {self.host} -p {self.port} --server {self.server}`")
        restarts: collections.deque[float] = collections.deque()
        try:
            while not self.stopping:
                self.child = self.spawn()
                self.log(f"started server pid {self.child.pid}")
                if self.stopping:  # the signal came while it was being spawned
                    self.child.send_signal(signal.SIGTERM)
                code = self.child.wait()
                if self.stopping:
                    break
                now = time.monotonic()
                while restarts and now - restarts[0] > RESTART_WINDOW:
                    restarts.popleft()
                if len(restarts) >= RESTART_MAX:
                    self.log(
                        f"server pid {self.child.pid} exited with code {code}; giving up after {len(restarts)}"
                        f" restarts within {RESTART_WINDOW:g} s (see {self.output})"
                    )
                    return 1
                delay = min(RESTART_DELAY * 2 ** len(restarts), RESTART_DELAY_MAX)
                restarts.append(now)
                self.log(f"server pid {self.child.pid} exited with code {code}; restarting in {delay:g} s")
                until = time.monotonic() + delay
                while not self.stopping and time.monotonic() < until:
                    time.sleep(0.05)
            return self.wait_for_child()
        finally:
            release_pid_file(pid_file(self.port))

    def wait_for_child(self) -> int:
        """The child stops itself within STOP_TIMEOUT (its watchdog); past that and a margin, it is killed."""
        child = self.child
        if child is not None and child.poll() is None:
            try:
                child.wait(timeout=STOP_TIMEOUT + 2)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
                self.log(f"server pid {child.pid} ignored SIGTERM for {STOP_TIMEOUT + 2:g} s; killed it")
        if child is not None:
            release_pid_file(child_pid_file(self.port), child.pid)
        self.log("stopped")
        return 0


def start_daemon(*, host: str, port: int, server: str) -> tuple[int, Path]:
    """Detach a supervisor (new session, no terminal) and wait until it owns the pid file; its pid and
    the logs directory."""
    other = read_pid(pid_file(port))
    if other is not None and pid_alive(other):
        raise ServeError(f"a GoFly server (pid {other}) already runs for this port (pid file {pid_file(port)})")
    bind(host, port).close()  # fail here, in the terminal, rather than in a log nobody reads
    logs = log_dir()
    logs.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, str(MANAGE_PY), "server", "--supervise", "--host", host, "-p", str(port)]
    with open(logs / f"gofly-{port}-supervisor.log", "ab") as out:
        proc = subprocess.Popen(
            [*command, "--server", server],
            cwd=settings.BASE_DIR,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,  # its own session: no terminal, Ctrl-C and hangups of ours do not reach it
        )
    deadline = time.monotonic() + 10
    while read_pid(pid_file(port)) != proc.pid:
        if proc.poll() is not None or time.monotonic() > deadline:
            raise ServeError(f"the supervisor did not start (see {logs / f'gofly-{port}-supervisor.log'})")
        time.sleep(0.05)
    return proc.pid, logs
