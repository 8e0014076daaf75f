"""IP blacklist entries become networks (an address is a network of one) with their first and last
address in a sortable form, so that CIDR entries and IPv4-mapped addresses match in one query."""

from typing import Any

from django.db import migrations, models

import enterprises.models


def forwards(apps: Any, schema_editor: Any) -> None:
    from enterprises.models import ip_network_parse

    IPBlacklist = apps.get_model("enterprises", "IPBlacklist")
    for entry in IPBlacklist.objects.all():
        entry.network, entry.start, entry.end = ip_network_parse(entry.ip)
        entry.save(update_fields=["network", "start", "end"])


def backwards(apps: Any, schema_editor: Any) -> None:
    IPBlacklist = apps.get_model("enterprises", "IPBlacklist")
    for entry in IPBlacklist.objects.all():
        entry.ip = entry.network.split("/")[0]  # a network shrinks to its first address
        entry.save(update_fields=["ip"])


class Migration(migrations.Migration):
    dependencies = [("enterprises", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="ipblacklist",
            name="network",
            field=models.CharField(
                default="",
                help_text="An address (203.0.113.7, 2001:db8::1) or a network in CIDR form (203.0.113.0/24).",
                max_length=43,
                validators=[enterprises.models.validate_ip_network],
                verbose_name="IP address or network",
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="ipblacklist",
            name="start",
            field=models.CharField(default="", editable=False, max_length=32),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="ipblacklist",
            name="end",
            field=models.CharField(default="", editable=False, max_length=32),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name="ipblacklist",
            name="ip",
            field=models.GenericIPAddressField(null=True, verbose_name="IP address"),
        ),
        migrations.RunPython(forwards, backwards),
        migrations.RemoveConstraint(model_name="ipblacklist", name="uniq_blacklist_ip"),
        migrations.RemoveField(model_name="ipblacklist", name="ip"),
        migrations.AddConstraint(
            model_name="ipblacklist",
            constraint=models.UniqueConstraint(fields=("enterprise", "network"), name="uniq_blacklist_network"),
        ),
        migrations.AddIndex(
            model_name="ipblacklist",
            index=models.Index(fields=["enterprise", "start"], name="blacklist_ent_start"),
        ),
    ]
