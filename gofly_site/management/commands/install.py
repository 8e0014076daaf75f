"""`manage.py install`: create the schema and the default data (roles, a superadmin, a demo enterprise), and
collect the static files when they are missing or out of date."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import User
from accounts.permissions import ROLE_ENTERPRISE_ADMIN
from accounts.services import agent_create, roles_ensure, superadmin_create
from gofly_site.demo import enterprise_with_texts_create
from gofly_site.staticfiles import collect_if_stale


class Command(BaseCommand):
    help = "Migrate the database and create roles, a superadmin and a demo enterprise with an agent and an admin."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--noinput", "--no-input", action="store_true", help="Never prompt.")
        parser.add_argument("--force", action="store_true", help="Wipe ALL existing data and install afresh.")
        parser.add_argument("--if-missing", action="store_true", help="Succeed without changes when already installed.")
        parser.add_argument("--agent", default="kefu2", help="Username of the demo agent (default kefu2).")
        parser.add_argument("--manager", default="boss", help="Username of the demo enterprise's admin (default boss).")

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        # Pages name their scripts by hashed names from STATIC_ROOT's manifest: collected on every run that
        # finds it missing or a static file changed since, so `make run` after an update serves the new ones.
        collect_if_stale(self.stdout)
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
        manager_password = os.environ.get("GOFLY_MANAGER_PASSWORD") or secrets.token_urlsafe(9)
        with transaction.atomic():
            roles_ensure()
            superadmin_create(username="admin", password=admin_password)
            enterprise = enterprise_with_texts_create(name="GoFly Demo")
            agent = agent_create(
                enterprise=enterprise, username=options["agent"], password=agent_password, nickname="小飞 Fly"
            )
            # The demo's admin: the console's routing, tags and "clear history", and the management area.
            manager = agent_create(
                enterprise=enterprise,
                username=options["manager"],
                password=manager_password,
                nickname="店长 Manager",
                role=ROLE_ENTERPRISE_ADMIN,
            )
        lines = [
            f"superadmin   admin / {admin_password}   (/admin)",
            f"agent        {agent.username} / {agent_password}   (/login)",
            f"ent. admin   {manager.username} / {manager_password}   (/login, /manage/)",
            f"visitor link /chatIndex?kefu_id={agent.username}&ent_id={enterprise.pk}",
        ]
        path, kept = _credentials_record(lines)
        self.stdout.write(self.style.SUCCESS("Installed."))
        self.stdout.write("\n".join(lines))
        self.stdout.write(
            f"These passwords are shown only now; they are kept in {path} (mode 0600, readable by this user only)."
        )
        if kept:
            self.stdout.write(
                self.style.WARNING(
                    f"{path} already held credentials (of an earlier install, possibly of another database): they"
                    f" were kept, and these were added after them, headed by the database they belong to."
                )
            )


def _database_described() -> str:
    """The database this install wrote to, as an operator tells it apart from another: never its password."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite {db['NAME']}"
    where = f"{db.get('HOST') or 'localhost'}:{db['PORT']}" if db.get("PORT") else db.get("HOST") or "localhost"
    return f"{connection.vendor} {db.get('USER') or ''}@{where}/{db['NAME']}"


def _credentials_record(lines: list[str]) -> tuple[Path, bool]:
    """Add this install's logins to var/credentials.txt as a section dated and named by its database. What the
    file held is never overwritten (switching a clone from SQLite to MariaDB must not lose the first passwords).
    Returns the path and whether earlier credentials were kept."""
    settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
    path = settings.VAR_DIR / "credentials.txt"
    before = path.read_text(errors="replace") if path.exists() else ""
    kept = bool(before.strip())
    header = f"# {timezone.localtime():%Y-%m-%d %H:%M:%S %z}  manage.py install  database {_database_described()}"
    section = "\n".join([header, *lines]) + "\n"
    # Created 0600 from the start: the passwords are never readable by others, not even for a moment.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a") as file:
        if kept:
            file.write("\n" if before.endswith("\n") else "\n\n")
        file.write(section)
    path.chmod(0o600)
    return path, kept
