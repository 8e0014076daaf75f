"""Visitor ids compared exactly, and visitors marked when their id was signed (security review, issue 15).

`visitor_id` moves to a binary collation on MySQL/MariaDB (chat.models.ExactCharField); SQLite compared it
exactly already. No row changes: the old case- and accent-insensitive unique index could not hold two ids
of one enterprise that differ only in case or accents, so every existing id stays as it is and stays
unique. From now on `CaseUser` and `caseuser` are two visitors, and a lookup of one never finds the other.

`identity_verified` starts true for the visitors of enterprises that have an identity secret today: GoFly
cannot tell which of them were created unsigned before the secret was set, and turning them away would
cut every signed user off from their history. What protects those conversations is the token rule that
ships with this migration: tokens issued before the secret (or under an older one) no longer work.
"""

from typing import Any

from django.db import migrations, models

import chat.models


def verified_where_signed(apps: Any, schema_editor: Any) -> None:
    Visitor = apps.get_model("chat", "Visitor")
    Visitor.objects.using(schema_editor.connection.alias).exclude(enterprise__identity_secret="").update(
        identity_verified=True
    )


class Migration(migrations.Migration):
    dependencies = [
        ("chat", "0009_workspace_tags_notes"),
        ("enterprises", "0005_enterprise_identity_secret"),
    ]

    operations = [
        migrations.AddField(
            model_name="visitor",
            name="identity_verified",
            field=models.BooleanField(default=False, verbose_name="identity verified"),
        ),
        migrations.AlterField(
            model_name="visitor",
            name="visitor_id",
            field=chat.models.ExactCharField(max_length=64, verbose_name="visitor id"),
        ),
        migrations.RunPython(verified_where_signed, migrations.RunPython.noop),
    ]
