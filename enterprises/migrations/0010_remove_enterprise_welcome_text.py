"""The welcome texts are replies' WelcomeText rows only (replies.0002 made a row of each welcome_text)."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("enterprises", "0009_landing_domain_served"),
        ("replies", "0002_welcome_texts_from_enterprises"),
    ]

    operations = [
        migrations.RemoveField(
            model_name="enterprise",
            name="welcome_text",
        ),
    ]
