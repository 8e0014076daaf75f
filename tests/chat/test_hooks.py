"""Chat's hooks (chat/hooks.py): the apps above react through them, and a failing receiver loses nothing."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.db import OperationalError

from chat import hooks
from chat.models import Message
from chat.services import message_create
from replies import services as replies_services
from tests.conftest import login_visitor

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def failing() -> Any:
    """Connect a receiver that raises to a hook, before the others, for the test."""
    connected: list[tuple[Any, Any]] = []

    def connect(hook: Any, exc: Exception) -> None:
        def boom(_value: Any) -> Any:
            raise exc

        hook._receivers.insert(0, boom)
        connected.append((hook, boom))

    yield connect
    for hook, receiver in connected:
        hook.disconnect(receiver)


def test_the_apps_above_register_their_receivers_in_ready():
    names = {
        hook.name: [r.__module__ for r in hook._receivers]
        for hook in (hooks.messages_stored, hooks.visitor_logged_in, hooks.periodic_chore)
    }
    assert names == {
        "chat.messages_stored": ["replies.autoreply", "wechat.outbound"],
        "chat.visitor_logged_in": ["replies.apps"],
        "chat.periodic_chore": [
            "chat.tenants",
            "chat.services.closing",
            "stats.runner",
            "notices.runner",
            "wechat.outbound",
            "wechat.alerts",
        ],
    }


def test_a_failing_message_receiver_neither_loses_nor_delays_the_message_and_the_others_still_answer(
    enterprise, boss, published, failing, caplog
):
    replies_services.keyword_rule_create(agent=boss, keyword="price", reply="See the shop page.")
    failing(hooks.messages_stored, RuntimeError("a receiver's bug"))
    visitor = login_visitor(enterprise).visitor
    with caplog.at_level(logging.ERROR, logger="core.hooks"):
        message, created = message_create(visitor=visitor, sender="visitor", content="price?", client_id="c1")
    assert created and Message.objects.filter(pk=message.pk).exists()
    stored = list(Message.objects.filter(visitor=visitor).order_by("id").values_list("sender", "content"))
    assert stored == [("visitor", "price?"), ("agent", "See the shop page.")]
    pushed = [f["data"]["content"] for _g, f in published if f["type"] == "message.new"]
    assert pushed.count("price?") == 2 and pushed.count("See the shop page.") == 2
    assert "chat.messages_stored" in caplog.text and "a receiver's bug" in caplog.text


def test_a_receiver_that_meets_a_database_outage_is_one_health_line_not_a_traceback(enterprise, failing, caplog):
    failing(hooks.messages_stored, OperationalError(2006, "MySQL server has gone away"))
    visitor = login_visitor(enterprise).visitor
    with caplog.at_level(logging.INFO):
        _message, created = message_create(visitor=visitor, sender="visitor", content="hi", client_id="c1")
    assert created
    assert "Traceback" not in caplog.text and not [r for r in caplog.records if r.exc_info]


def test_a_failing_login_receiver_still_logs_the_visitor_in(client, enterprise, agent, failing):
    failing(hooks.visitor_logged_in, RuntimeError("broken"))
    answer = client.post("/api/v1/visitor/login", {"ent_id": str(enterprise.pk)}, content_type="application/json")
    assert answer.status_code == 200
    assert answer.json()["token"] and answer.json()["enterprise"]["welcomes"] == ["Welcome to Acme!"]


def test_a_note_is_among_the_committed_messages_and_only_after_the_commit(enterprise, agent):
    seen: list[list[str]] = []

    def forward(messages: list[Message]) -> None:
        seen.append([m.content for m in messages])

    hooks.messages_committed.connect(forward)
    try:
        visitor = login_visitor(enterprise).visitor
        message_create(visitor=visitor, sender="visitor", content="hello", client_id="c1")
        message_create(visitor=visitor, sender="visitor", content="hello", client_id="c1")  # a resend: nothing new
    finally:
        hooks.messages_committed.disconnect(forward)
    assert seen == [["hello"]]
