"""`manage.py send_alerts`: one e-mail alert sweep now (for cron, or by hand)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from notices.alerts import alerts_sweep, mail_configured


class Command(BaseCommand):
    help = "Mail each opted-in agent who is away or offline a digest of new visitor messages (one sweep)."

    def handle(self, *args: Any, **options: Any) -> None:
        if not mail_configured():
            self.stderr.write("EMAIL_HOST is not set: e-mail alerts are off.")
            return
        result = alerts_sweep()
        self.stdout.write(f"sent {result.sent}, failed {result.failed}, online {result.skipped_online}")
