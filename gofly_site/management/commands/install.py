"""`manage.py install`: create the schema and the default data (roles, a superadmin, a demo enterprise)."""

from __future__ import annotations

import os
import secrets
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from accounts.models import User
from accounts.services import agent_create, roles_ensure, superadmin_create
from enterprises.services import enterprise_create


class Command(BaseCommand):
    help = "Migrate the database and create roles, a superadmin and a demo enterprise with one agent."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--noinput", "--no-input", action="store_true", help="Never prompt.")
        parser.add_argument("--force", action="store_true", help="Wipe ALL existing data and install afresh.")
        parser.add_argument("--if-missing", action="store_true", help="Succeed without changes when already installed.")
        parser.add_argument("--agent", default="kefu2", help="Username of the demo agent (default kefu2).")

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        if User.objects.exists():
            if options["if_missing"] and not options["force"]:
                # The passwords were shown once, at install; a routine `make run` must not print them again.
                path = settings.VAR_DIR / "credentials.txt"
                where = f" The credentials of the install are in {path}." if path.exists() else ""
                self.stdout.write(f"Already installed; nothing changed.{where}")
                return
            if not options["force"]:
                raise CommandError("GoFly is already installed here; refusing to wipe its data (use --force).")
            if not options["noinput"]:
                answer = input("This deletes every enterprise, agent, visitor and message. Type 'yes': ")
                if answer.strip() != "yes":
                    raise CommandError("Cancelled.")
            call_command("flush", interactive=False, verbosity=0)
        admin_password = os.environ.get("GOFLY_ADMIN_PASSWORD") or secrets.token_urlsafe(9)
        agent_password = os.environ.get("GOFLY_AGENT_PASSWORD") or secrets.token_urlsafe(9)
        with transaction.atomic():
            roles_ensure()
            superadmin_create(username="admin", password=admin_password)
            enterprise = enterprise_create(
                name="GoFly Demo",
                welcome_text="您好，欢迎咨询！有什么可以帮您？ Hello, how can we help you?",
                offline_text=(
                    "客服暂时不在线，请留言，我们会尽快回复。 We are away; leave a message and we will reply soon."
                ),
            )
            agent = agent_create(
                enterprise=enterprise, username=options["agent"], password=agent_password, nickname="小飞 Fly"
            )
        lines = [
            f"superadmin   admin / {admin_password}   (/admin)",
            f"agent        {agent.username} / {agent_password}   (/login)",
            f"visitor link /chatIndex?kefu_id={agent.username}&ent_id={enterprise.pk}",
        ]
        settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
        path = settings.VAR_DIR / "credentials.txt"
        path.write_text("\n".join(lines) + "\n")
        path.chmod(0o600)
        self.stdout.write(self.style.SUCCESS("Installed."))
        self.stdout.write("\n".join(lines))
        self.stdout.write(
            f"These passwords are shown only now; they are kept in {path} (mode 0600, readable by this user only)."
        )
