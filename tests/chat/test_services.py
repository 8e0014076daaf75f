"""Visitor login and message services: identity, recording, deduplication, tenant rules, limits."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chat.models import Message, Visitor
from chat.services import message_create, messages_mark_read
from core.errors import ChatError
from tests.conftest import address_block, login_visitor

pytestmark = pytest.mark.django_db


def test_a_new_visitor_is_created_with_what_the_page_told_us(enterprise, agent):
    extra = base64.b64encode(json.dumps({"visitorName": "Alice", "plan": "gold"}).encode()).decode().rstrip("=")
    result = login_visitor(enterprise, agent, extra=extra, user_agent="Mozilla/5.0 (iPhone) Mobile")
    visitor = result.visitor
    assert result.created
    assert visitor.name == "Alice"
    assert visitor.extra == {"visitorName": "Alice", "plan": "gold"}
    assert visitor.ip == "203.0.113.7"
    assert visitor.referrer == "https://shop.example.com/item/1"
    assert visitor.landing_page == "https://shop.example.com/"
    assert visitor.agent == agent
    assert visitor.avatar.endswith("visitor-mobile.svg")
    assert len(visitor.visitor_id) == 32


def test_a_new_visitors_login_costs_four_plain_queries(enterprise, agent):
    """Every page view of a new visitor logs in: the enterprise, its blacklist entries for the address,
    the agent asked for, the INSERT (and nothing else outside the test's transaction: no savepoint, no
    exists()). Plain ones: an Exists subquery for the blacklist cost more ORM time than its own query."""
    with CaptureQueriesContext(connection) as queries:
        login_visitor(enterprise, agent, visitor_id="crm-7")
    statements = [q["sql"].split()[0] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert statements == ["SELECT", "SELECT", "SELECT", "INSERT"]
    assert not [q for q in queries.captured_queries if "EXISTS" in q["sql"].upper()]


def test_a_returning_visitor_is_resumed_by_its_token(enterprise, agent):
    first = login_visitor(enterprise, agent)
    again = login_visitor(enterprise, agent, token=first.token, referrer="https://shop.example.com/cart")
    assert not again.created
    assert again.visitor.pk == first.visitor.pk
    assert again.visitor.visits == 2
    assert again.visitor.referrer == "https://shop.example.com/cart"
    assert Visitor.objects.count() == 1


def test_knowing_a_visitor_id_does_not_open_that_visitors_conversation(enterprise, agent):
    victim = login_visitor(enterprise, agent)
    attacker = login_visitor(enterprise, agent, visitor_id=victim.visitor.visitor_id)
    assert attacker.visitor.pk != victim.visitor.pk
    assert attacker.visitor.visitor_id != victim.visitor.visitor_id


def test_an_operators_own_visitor_id_is_used_for_a_new_visitor(enterprise, agent):
    result = login_visitor(enterprise, agent, visitor_id="crm-42")
    assert result.visitor.visitor_id == "crm-42"
    odd = login_visitor(enterprise, agent, visitor_id="<script>")
    assert odd.visitor.visitor_id != "<script>"


def test_a_token_of_another_enterprise_does_not_resume_there(enterprise, agent, other_enterprise, other_agent):
    mine = login_visitor(enterprise, agent)
    elsewhere = login_visitor(other_enterprise, other_agent, token=mine.token)
    assert elsewhere.created
    assert elsewhere.visitor.enterprise == other_enterprise


def test_an_agent_of_another_enterprise_is_not_found(enterprise, other_agent):
    with pytest.raises(ChatError) as err:
        login_visitor(enterprise, other_agent)
    assert err.value.status == 404


def test_an_unknown_enterprise_is_not_found(db):
    from enterprises.models import Enterprise

    with pytest.raises(ChatError) as err:
        login_visitor(Enterprise(pk=99999))
    assert err.value.code == "not_found"


def test_a_blacklisted_ip_cannot_log_in(enterprise, agent):
    address_block(enterprise=enterprise, ip="203.0.113.7")
    with pytest.raises(ChatError) as err:
        login_visitor(enterprise, agent)
    assert (err.value.code, err.value.status) == ("blacklisted", 403)


@pytest.mark.parametrize("extra", ["%%%", base64.b64encode(b"[1,2]").decode(), {"x": "y" * 5000}])
def test_malformed_extra_is_refused_clearly(enterprise, agent, extra):
    with pytest.raises(ChatError) as err:
        login_visitor(enterprise, agent, extra=extra)
    assert err.value.code == "bad_extra"


def test_an_unsafe_avatar_url_is_ignored(enterprise, agent):
    result = login_visitor(enterprise, agent, avatar="javascript:alert(1)")
    assert not result.visitor.avatar.startswith("javascript")


def test_login_is_rate_limited_per_ip(enterprise, agent, settings):
    settings.GOFLY = {**settings.GOFLY, "RATE_LOGIN_PER_IP": (3, 60)}
    for _ in range(3):
        login_visitor(enterprise, agent)
    with pytest.raises(ChatError) as err:
        login_visitor(enterprise, agent)
    assert err.value.status == 429


def test_a_message_is_stored_once_per_client_id(visitor_login_result):
    visitor = visitor_login_result.visitor
    first, created = message_create(visitor=visitor, sender="visitor", content="hi", client_id="c1")
    again, created_again = message_create(visitor=visitor, sender="visitor", content="hi", client_id="c1")
    assert created and not created_again
    assert first.pk == again.pk
    assert Message.objects.count() == 1
    visitor.refresh_from_db()
    assert visitor.last_message_at == first.created_at


def test_the_same_client_id_from_the_other_side_is_another_message(visitor_login_result, agent):
    visitor = visitor_login_result.visitor
    message_create(visitor=visitor, sender="visitor", content="hi", client_id="c1")
    message_create(visitor=visitor, sender="agent", content="hello", client_id="c1", agent=agent)
    assert Message.objects.exclude(kind="event").count() == 2


def test_an_agent_cannot_write_to_another_enterprises_visitor(visitor_login_result, other_agent):
    with pytest.raises(ChatError) as err:
        message_create(
            visitor=visitor_login_result.visitor, sender="agent", content="x", client_id="c", agent=other_agent
        )
    assert err.value.status == 404
    with pytest.raises(ChatError):
        messages_mark_read(agent=other_agent, visitor=visitor_login_result.visitor, up_to=10)
    assert Message.objects.count() == 0


def test_visitor_messages_are_rate_limited(visitor_login_result, settings):
    settings.GOFLY = {**settings.GOFLY, "RATE_VISITOR_MESSAGES": (2, 10)}
    visitor = visitor_login_result.visitor
    message_create(visitor=visitor, sender="visitor", content="1", client_id="1")
    message_create(visitor=visitor, sender="visitor", content="2", client_id="2")
    with pytest.raises(ChatError) as err:
        message_create(visitor=visitor, sender="visitor", content="3", client_id="3")
    assert err.value.code == "rate_limited"
    assert Message.objects.count() == 2


def test_marking_read_only_touches_the_visitors_messages_up_to_the_mark(visitor_login_result, agent):
    visitor = visitor_login_result.visitor
    m1, _ = message_create(visitor=visitor, sender="visitor", content="1", client_id="1")
    message_create(visitor=visitor, sender="agent", content="a", client_id="a", agent=agent)
    m3, _ = message_create(visitor=visitor, sender="visitor", content="3", client_id="3")
    assert messages_mark_read(agent=agent, visitor=visitor, up_to=m1.pk) == 1
    assert list(Message.objects.filter(read_at__isnull=True).values_list("pk", flat=True).order_by("pk"))[-1] == m3.pk


def test_the_visitors_last_message_time_is_kept_to_ten_seconds_without_an_update_per_message(visitor_login_result):
    visitor = visitor_login_result.visitor
    first, _ = message_create(visitor=visitor, sender="visitor", content="1", client_id="1")
    with CaptureQueriesContext(connection) as burst:
        message_create(visitor=visitor, sender="visitor", content="2", client_id="2")
    assert not any(q["sql"].startswith("UPDATE") for q in burst.captured_queries)
    visitor.refresh_from_db()
    assert visitor.last_message_at == first.created_at
    visitor.last_message_at = first.created_at - timedelta(seconds=11)  # as if the last one was long ago
    third, _ = message_create(visitor=visitor, sender="visitor", content="3", client_id="3")
    visitor.refresh_from_db()
    assert visitor.last_message_at == third.created_at
