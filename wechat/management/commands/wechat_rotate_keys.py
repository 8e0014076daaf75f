"""Re-encrypt the official accounts' secrets under the first key of GOFLY_WECHAT_KEYS (after a rotation)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from wechat.services import wechat_account_secrets_rotate


class Command(BaseCommand):
    help = (
        "Re-encrypt every WeChat secret under the first key of GOFLY_WECHAT_KEYS; run after putting a new key "
        "first, before removing the old one."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        rewritten, unreadable = wechat_account_secrets_rotate()
        self.stdout.write(f"{rewritten} accounts re-encrypted; {unreadable} hold a secret no key decrypts.")
