"""Welcome texts have one source, the WelcomeText rows (the console's welcome screen): each enterprise's
`welcome_text` that had no row yet becomes one. enterprises.0010 then drops the column.

Backwards, each enterprise's first row is copied back into `welcome_text` (what the mirror used to keep there);
rows are kept."""

from django.db import migrations


def welcome_text_to_rows(apps, schema_editor):
    from replies.sanitise import plain, sanitise

    Enterprise = apps.get_model("enterprises", "Enterprise")
    WelcomeText = apps.get_model("replies", "WelcomeText")
    with_rows = set(WelcomeText.objects.values_list("enterprise_id", flat=True).distinct())
    rows = []
    for pk, text in Enterprise.objects.exclude(welcome_text="").values_list("pk", "welcome_text").iterator():
        content = sanitise(text.strip())
        if pk not in with_rows and plain(content):
            rows.append(WelcomeText(enterprise_id=pk, content=content, position=0))
    WelcomeText.objects.bulk_create(rows, batch_size=500)


def first_row_to_welcome_text(apps, schema_editor):
    Enterprise = apps.get_model("enterprises", "Enterprise")
    WelcomeText = apps.get_model("replies", "WelcomeText")
    first: dict[int, str] = {}
    for enterprise_id, content in WelcomeText.objects.order_by("position", "id").values_list("enterprise_id", "content"):
        first.setdefault(enterprise_id, content)
    for enterprise_id, content in first.items():
        Enterprise.objects.filter(pk=enterprise_id).update(welcome_text=content)


class Migration(migrations.Migration):

    dependencies = [
        ("replies", "0001_initial"),
        ("enterprises", "0009_landing_domain_served"),
    ]

    operations = [
        migrations.RunPython(welcome_text_to_rows, first_row_to_welcome_text),
    ]
