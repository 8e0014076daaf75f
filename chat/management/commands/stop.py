"""`manage.py stop`: ask the server started by `manage.py server` to stop, and wait for it."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from .server import pid_file


class Command(BaseCommand):
    help = "Stop the running GoFly server gracefully (SIGTERM, then wait)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("-p", "--port", type=int, default=int(os.environ.get("PORT", "8081")))
        parser.add_argument("--timeout", type=float, default=15.0)

    def handle(self, *args: Any, **options: Any) -> None:
        path = pid_file(options["port"])
        if not path.exists():
            raise CommandError(f"No server running on port {options['port']} (no {path}).")
        pid = int(path.read_text())
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            path.unlink(missing_ok=True)
            self.stdout.write("Server was not running; removed the stale pid file.")
            return
        deadline = time.monotonic() + options["timeout"]
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                path.unlink(missing_ok=True)
                self.stdout.write(self.style.SUCCESS("Stopped."))
                return
            time.sleep(0.1)
        raise CommandError(f"Server {pid} did not stop within {options['timeout']} s.")
