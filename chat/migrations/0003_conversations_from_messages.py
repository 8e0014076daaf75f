"""Each visitor's messages so far become one closed conversation; their next message opens a new one."""

from django.db import migrations
from django.db.models import Max, Min


def forwards(apps, schema_editor):
    Conversation = apps.get_model("chat", "Conversation")
    Message = apps.get_model("chat", "Message")
    rows = (
        Message.objects.filter(conversation__isnull=True)
        .values("visitor_id", "enterprise_id")
        .annotate(first=Min("created_at"), last=Max("created_at"))
    )
    for row in rows.iterator():
        # Closed by the system: nobody was serving them in the sense this model gives the word.
        conversation = Conversation.objects.create(
            enterprise_id=row["enterprise_id"],
            visitor_id=row["visitor_id"],
            status="closed",
            last_activity_at=row["last"],
            closed_at=row["last"],
            closed_by="system",
        )
        Conversation.objects.filter(pk=conversation.pk).update(created_at=row["first"])
        Message.objects.filter(visitor_id=row["visitor_id"], conversation__isnull=True).update(
            conversation=conversation
        )


class Migration(migrations.Migration):
    dependencies = [("chat", "0002_conversations")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
