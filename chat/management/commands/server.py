"""`manage.py server`: run GoFly under daphne (HTTP, websockets and, embedded, static files)."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser


def pid_file(port: int) -> Any:
    """One pid file per port, so several servers on one machine can be stopped one by one."""
    return settings.VAR_DIR / f"gofly-{port}.pid"


class Command(BaseCommand):
    help = "Run the GoFly server (daphne). Stop it with Ctrl-C or `manage.py stop`."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("-p", "--port", type=int, default=int(os.environ.get("PORT", "8081")))
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument(
            "--server",
            choices=["daphne", "uvicorn"],
            default=os.environ.get("GOFLY_ASGI_SERVER", "daphne"),
            help="ASGI server: daphne (default) or uvicorn (less CPU per message; see bench/README.md).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        host, port = options["host"], options["port"]
        shown = "127.0.0.1" if host in {"0.0.0.0", "::"} else host  # noqa: S104 - a comparison, not a bind
        loop = type(asyncio.get_event_loop_policy()).__module__.split(".")[0]  # uvloop unless GOFLY_UVLOOP=0
        self.stdout.write(
            f"GoFly ({options['server']}, {loop}) on http://{shown}:{port}/  console /console  login /login"
            "  admin /admin"
        )
        credentials = settings.VAR_DIR / "credentials.txt"
        if credentials.exists():
            for line in credentials.read_text().splitlines():
                self.stdout.write("  " + line.replace("/chatIndex", f"http://{shown}:{port}/chatIndex"))
        self.stdout.flush()
        settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
        pid_file(port).write_text(str(os.getpid()))
        try:
            if options["server"] == "uvicorn":
                self._uvicorn(host, port)
            else:
                self._daphne(host, port)
        finally:
            if pid_file(port).exists() and pid_file(port).read_text() == str(os.getpid()):
                pid_file(port).unlink()
        sys.exit(0)

    # Neither server may rewrite the client address from X-Forwarded-For: it would believe anyone.
    # GoFly reads those headers itself, from TRUSTED_PROXIES only (chat/identity.py).

    def _daphne(self, host: str, port: int) -> None:
        from daphne.cli import CommandLineInterface

        argv = ["-b", host, "-p", str(port), "--websocket_timeout", "-1", "--ping-interval", "20"]
        CommandLineInterface().run([*argv, "gofly_site.asgi:application"])

    def _uvicorn(self, host: str, port: int) -> None:
        import uvicorn

        uvicorn.run(
            "gofly_site.asgi:application",
            host=host,
            port=port,
            ws="websockets",
            ws_ping_interval=20,
            ws_ping_timeout=20,
            ws_max_size=1024 * 1024,
            proxy_headers=False,
            lifespan="off",
            log_level="warning",
        )
