"""`manage.py stop`: ask the server (or the supervisor of `server -d`) of a port to stop, and wait for it."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from gofly_site import serving


class Command(BaseCommand):
    help = (
        "Stop the GoFly server of a port gracefully: SIGTERM to the pid in $GOFLY_VAR_DIR/gofly-<port>.pid (the"
        " server, or the supervisor of `server -d`, which stops its server), then wait until it has exited. The"
        " server closes its websockets with 1012 and exits within GOFLY_STOP_TIMEOUT seconds."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "-p",
            "--port",
            type=serving.port_number,
            default=int(os.environ.get("PORT", "8081")),
            help="Port of the server to stop (default: $PORT or 8081; now %(default)s).",
        )
        parser.add_argument(
            "--timeout",
            type=float,
            default=serving.STOP_TIMEOUT + 5,
            help="Seconds to wait for it to exit before giving up with an error (default: GOFLY_STOP_TIMEOUT + 5;"
            " now %(default)s).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = serving.pid_file(options["port"])
        pid = serving.read_pid(path)
        if pid is None:
            raise CommandError(f"No server running on port {options['port']} (no {path}).")
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            serving.release_pid_file(path, pid)
            self.stdout.write("Server was not running; removed the stale pid file.")
            return
        deadline = time.monotonic() + options["timeout"]
        while time.monotonic() < deadline:
            if not serving.pid_alive(pid):
                # Normally the server removed it; only if it still names the process we stopped.
                serving.release_pid_file(path, pid)
                self.stdout.write(self.style.SUCCESS("Stopped."))
                return
            time.sleep(0.05)
        raise CommandError(f"Server {pid} did not stop within {options['timeout']:g} s.")
