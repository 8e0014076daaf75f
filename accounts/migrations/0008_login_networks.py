"""Usernames in one spelling, and the networks accounts log in from (security review, issue 15).

Existing usernames are rewritten to their normal form (accounts.models.username_normalise: NFKC,
case-folded, no invisible characters), the form logins now look them up by. A username whose normal form
another user already has (possible only on SQLite, whose comparison is case-sensitive) is left as it is
and named on the console: that user logs in under their old spelling until an administrator renames them.
"""

from typing import Any

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

import accounts.models


def usernames_normalised(apps: Any, schema_editor: Any) -> None:
    User = apps.get_model("accounts", "User")
    users = User.objects.using(schema_editor.connection.alias)
    taken = set(users.values_list("username", flat=True))
    for pk, username in users.order_by("pk").values_list("pk", "username"):
        normal = accounts.models.username_normalise(username)
        if normal == username:
            continue
        if normal in taken:
            print(f"\n  username {username!r} (user {pk}) kept: {normal!r} is another user's")
            continue
        users.filter(pk=pk).update(username=normal)
        taken.discard(username)
        taken.add(normal)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0007_delete_role"),
    ]

    operations = [
        migrations.AlterModelManagers(
            name="user",
            managers=[
                ("objects", accounts.models.AgentUserManager()),
            ],
        ),
        migrations.CreateModel(
            name="LoginNetwork",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("network", models.CharField(max_length=43)),
                ("last_login_at", models.DateTimeField()),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="login_networks",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "verbose_name": "login network",
                "verbose_name_plural": "login networks",
                "constraints": [models.UniqueConstraint(fields=("user", "network"), name="uniq_login_network")],
            },
        ),
        migrations.RunPython(usernames_normalised, migrations.RunPython.noop),
    ]
