"""The rollup runs from the servers' periodic chore (chat.hooks.periodic_chore), in a thread of its own."""

from __future__ import annotations

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from chat import hooks
from chat.models import Message
from stats import runner
from stats.models import MessageDay
from tests.conftest import login_visitor

pytestmark = pytest.mark.django_db(transaction=True)


def _old_message(enterprise: object, agent: object) -> None:
    from chat.services import message_create

    visitor = login_visitor(enterprise, agent).visitor  # type: ignore[arg-type]
    message, _created = message_create(visitor=visitor, sender="visitor", content="counted", client_id="r1")
    Message.objects.filter(pk=message.pk).update(created_at=timezone.now() - timedelta(minutes=5))


async def test_the_periodic_chore_rolls_the_settled_messages_up(enterprise, agent, monkeypatch):
    assert runner.on_heartbeat in hooks.periodic_chore._receivers  # registered by StatsConfig.ready
    await database_sync_to_async(_old_message)(enterprise, agent)
    monkeypatch.setattr(runner, "_last", 0.0)
    await hooks.periodic_chore.send(None)
    assert runner._task is not None
    await runner._task
    counts = await database_sync_to_async(lambda: list(MessageDay.objects.values_list("sender", "count")))()
    assert counts == [("visitor", 1)]
