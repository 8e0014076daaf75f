"""`manage.py server`: run GoFly under daphne or uvicorn (HTTP, websockets and, embedded, static files)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from gofly_site import serving

# `stop` imports it from here.
pid_file = serving.pid_file


class Command(BaseCommand):
    help = (
        "Run the GoFly server: HTTP, websockets and (unless GOFLY_SERVE_STATIC=0) the static files. It binds the"
        " port first, then writes its pid file $GOFLY_VAR_DIR/gofly-<port>.pid. Stop it with Ctrl-C or"
        " `manage.py stop -p <port>`: websockets are closed with code 1012 (clients reconnect elsewhere) and the"
        f" process ends within GOFLY_STOP_TIMEOUT seconds (now {serving.STOP_TIMEOUT:g})."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "-p",
            "--port",
            type=serving.port_number,
            default=int(os.environ.get("PORT", "8081")),
            help="TCP port to listen on, 1-65535 (default: $PORT or 8081; now %(default)s).",
        )
        parser.add_argument(
            "--host",
            default=os.environ.get("HOST", "127.0.0.1"),
            help="Address to listen on; 0.0.0.0 or :: for every interface (default: $HOST or 127.0.0.1; now"
            " %(default)s).",
        )
        parser.add_argument(
            "--server",
            choices=["daphne", "uvicorn"],
            default=os.environ.get("GOFLY_ASGI_SERVER", "daphne"),
            help="ASGI server: daphne, or uvicorn (less CPU per message; see bench/README.md) (default:"
            " $GOFLY_ASGI_SERVER or daphne; now %(default)s).",
        )
        parser.add_argument(
            "-d",
            "--daemon",
            action="store_true",
            help="Run in the background under a supervisor that restarts the server when it crashes (at most"
            f" {serving.RESTART_MAX} restarts within {serving.RESTART_WINDOW:g} s, then it gives up). The"
            " supervisor's pid goes to the pid file, server output and supervisor events to $GOFLY_LOG_DIR"
            " (default ./logs). `manage.py stop -p <port>` stops both.",
        )
        # Internal: the supervisor runs itself this way, and names its server's pid file.
        parser.add_argument("--supervise", action="store_true", help=argparse.SUPPRESS)
        parser.add_argument("--pid-file", type=Path, default=None, help=argparse.SUPPRESS)

    def handle(self, *args: Any, **options: Any) -> None:
        host, port, server = options["host"], options["port"], options["server"]
        try:
            if options["supervise"]:
                sys.exit(serving.Supervisor(host=host, port=port, server=server).run())
            if options["daemon"]:
                pid, logs = serving.start_daemon(host=host, port=port, server=server)
                self.stdout.write(
                    f"GoFly supervisor started (pid {pid}, pid file {serving.pid_file(port)}); logs in {logs}/\n"
                    f"  `manage.py stop -p {port}` stops it and its server."
                )
                self.banner(host, port, server)
                return
            self.serve(host, port, server, options["pid_file"] or serving.pid_file(port))
        except serving.ServeError as exc:
            raise CommandError(str(exc)) from None

    def serve(self, host: str, port: int, server: str, pid_path: Path) -> None:
        # Bound first: a server that cannot listen must neither announce itself nor touch the pid file of the
        # one that holds the port.
        sock = serving.bind(host, port)
        try:
            serving.claim_pid_file(pid_path)
        except serving.ServeError:
            sock.close()
            raise
        try:
            self.banner(host, port, server, pid_path)
            serving.tune_gc()
            if server == "uvicorn":
                serving.run_uvicorn(sock, pid_path)
            else:
                serving.run_daphne(sock, pid_path)
        finally:
            serving.release_pid_file(pid_path)
        sys.exit(0)

    def banner(self, host: str, port: int, server: str, pid_path: Path | None = None) -> None:
        """Where to go and where things are; never the passwords (only `install` prints those, once)."""
        shown = "127.0.0.1" if host in {"0.0.0.0", "::"} else host  # noqa: S104 - a comparison, not a bind
        if ":" in shown:
            shown = f"[{shown}]"
        base = f"http://{shown}:{port}"
        loop = type(asyncio.get_event_loop_policy()).__module__.split(".")[0]  # uvloop unless GOFLY_UVLOOP=0
        lines = [f"GoFly ({server}, {loop}) on {base}/  console /console  login /login  admin /admin"]
        credentials = Path(settings.VAR_DIR) / "credentials.txt"
        if credentials.exists():
            for line in credentials.read_text().splitlines():
                if line.startswith("visitor link"):
                    lines.append("  " + line.replace("/chatIndex", f"{base}/chatIndex"))
            lines.append(f"  credentials  {credentials} (the passwords `manage.py install` set)")
        else:
            lines.append("  not installed yet: run `manage.py install` first")
        lines.append(f"  health       {base}/healthz  {base}/readyz")
        if pid_path is not None:
            lines.append(f"  pid file     {pid_path} (stop with `manage.py stop -p {port}`)")
        self.stdout.write("\n".join(lines))
        self.stdout.flush()
