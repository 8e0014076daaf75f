"""The migration that gives the messages stored before conversations existed a conversation."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from chat.models import Conversation, Message

BEFORE = [("chat", "0002_conversations")]


@pytest.mark.django_db(transaction=True)
def test_each_visitors_earlier_messages_become_one_closed_conversation(enterprise):
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    old_visitor, old_message = old.get_model("chat", "Visitor"), old.get_model("chat", "Message")
    talkative = old_visitor.objects.create(enterprise_id=enterprise.pk, visitor_id="a", name="A")
    quiet = old_visitor.objects.create(enterprise_id=enterprise.pk, visitor_id="b", name="B")
    old_visitor.objects.create(enterprise_id=enterprise.pk, visitor_id="c", name="never wrote")
    for i, visitor in enumerate([talkative, talkative, talkative, quiet]):
        old_message.objects.create(
            enterprise_id=enterprise.pk, visitor=visitor, sender="visitor", content=f"m{i}", client_id=f"c{i}"
        )
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    conversations = {c.visitor.visitor_id: c for c in Conversation.objects.select_related("visitor")}
    assert set(conversations) == {"a", "b"}  # one per visitor who wrote
    for public_id, count in (("a", 3), ("b", 1)):
        conversation = conversations[public_id]
        assert (conversation.status, conversation.closed_by, conversation.open_visitor_id) == ("closed", "system", None)
        messages = Message.objects.filter(conversation=conversation)
        assert messages.count() == count
        assert conversation.last_activity_at == max(m.created_at for m in messages)
        assert conversation.created_at == min(m.created_at for m in messages)
