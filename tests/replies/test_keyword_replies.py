"""Keyword auto-replies: which rule answers, once, on the batch path, with the rules cached per process."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chat.models import Message
from chat.services import NewMessage, message_create, messages_create
from replies import cache, services
from replies.selectors import keyword_rules
from tests.conftest import login_visitor

pytestmark = pytest.mark.django_db(transaction=True)


def rule(admin: Any, keyword: str, reply: str, **kw: Any) -> Any:
    return services.keyword_rule_create(agent=admin, keyword=keyword, reply=reply, **kw)


def answers(visitor: Any) -> list[Message]:
    return list(Message.objects.filter(visitor=visitor, sender="agent").order_by("id"))


def say(visitor: Any, text: str, client_id: str | None = None) -> tuple[Message, bool]:
    return message_create(visitor=visitor, sender="visitor", content=text, client_id=client_id or text)


def test_a_matching_visitor_message_is_answered_automatically_with_no_agent_online(enterprise, admin, published):
    r = rule(admin, "price", "Our prices are on the shop page.")
    visitor = login_visitor(enterprise).visitor
    say(visitor, "What is the PRICE?")
    (answer,) = answers(visitor)
    assert answer.agent is None and answer.content == "Our prices are on the shop page."
    assert answer.meta == {"auto": "keyword", "rule": r.pk}
    assert answer.conversation_id == Message.objects.get(visitor=visitor, sender="visitor").conversation_id
    pushed = [f["data"] for _g, f in published if f["type"] == "message.new" and f["data"]["sender"] == "agent"]
    assert len(pushed) == 2  # to the agents and to the visitor
    assert pushed[0]["agent"] is None and pushed[0]["meta"] == {"auto": "keyword", "rule": r.pk}


def test_no_rule_matching_means_no_answer(enterprise, admin):
    rule(admin, "price", "x")
    visitor = login_visitor(enterprise).visitor
    say(visitor, "hello there")
    assert answers(visitor) == []


def test_the_highest_priority_rule_answers_and_a_disabled_one_never(enterprise, admin):
    rule(admin, "ship", "low", priority=1)
    rule(admin, "shipping", "high", priority=5)
    rule(admin, "shipping cost", "off", priority=9, enabled=False)
    visitor = login_visitor(enterprise).visitor
    say(visitor, "shipping cost?")
    assert [m.content for m in answers(visitor)] == ["high"]


def test_exact_matches_the_whole_message_only_and_contains_any_part(enterprise, admin):
    rule(admin, "hi", "exact hello", match="exact", priority=3)
    rule(admin, "refund", "contains refund", match="contains")
    one = login_visitor(enterprise).visitor
    say(one, "  HI ")
    say(one, "hi, I want a refund")
    assert [m.content for m in answers(one)] == ["exact hello", "contains refund"]


def test_chinese_keywords_match(enterprise, admin):
    rule(admin, "价格", "价格请看商品页。")
    rule(admin, "你好", "您好！", match="exact")
    visitor = login_visitor(enterprise).visitor
    say(visitor, "请问这个价格多少")
    say(visitor, "你好")
    assert [m.content for m in answers(visitor)] == ["价格请看商品页。", "您好！"]


def test_another_enterprises_rules_never_apply(enterprise, admin, other_enterprise):
    rule(admin, "price", "acme price")
    visitor = login_visitor(other_enterprise).visitor
    say(visitor, "price")
    assert answers(visitor) == []


def test_a_resent_visitor_message_is_not_answered_twice(enterprise, admin):
    rule(admin, "price", "p")
    visitor = login_visitor(enterprise).visitor
    say(visitor, "price", "c1")
    say(visitor, "price", "c1")
    messages_create([NewMessage(visitor, "visitor", "price", "c1")])
    assert len(answers(visitor)) == 1


def test_agent_and_automatic_messages_are_never_answered(enterprise, admin, agent):
    rule(admin, "price", "p")
    visitor = login_visitor(enterprise).visitor
    message_create(visitor=visitor, sender="agent", content="price list", client_id="a1", agent=agent)
    assert [m.content for m in answers(visitor)] == ["price list"]


def test_a_rule_change_takes_effect_on_the_next_message(enterprise, admin):
    r = rule(admin, "price", "old")
    visitor = login_visitor(enterprise).visitor
    say(visitor, "price", "1")
    services.keyword_rule_update(agent=admin, rule_id=r.pk, reply="new")
    say(visitor, "price", "2")
    services.keyword_rule_update(agent=admin, rule_id=r.pk, enabled=False)
    say(visitor, "price", "3")
    services.keyword_rule_delete(agent=admin, rule_id=r.pk)
    rule(admin, "price", "again")
    say(visitor, "price", "4")
    assert [m.content for m in answers(visitor)] == ["old", "new", "again"]


def test_a_batch_of_many_messages_reads_the_rules_once_and_the_next_batch_not_at_all(
    enterprise, admin, other_enterprise
):
    rule(admin, "price", "p")
    visitors = [login_visitor(enterprise).visitor for _ in range(5)] + [login_visitor(other_enterprise).visitor]
    batch = [NewMessage(v, "visitor", f"price {i}", f"c{i}") for i, v in enumerate(visitors * 4)]
    loads = keyword_rules.loads
    with CaptureQueriesContext(connection) as queries:
        results = messages_create(batch)
    assert all(isinstance(r, tuple) for r in results)
    rule_reads = [q["sql"] for q in queries.captured_queries if "replies_keywordrule" in q["sql"]]
    assert len(rule_reads) == 1 and keyword_rules.loads == loads + 1
    assert Message.objects.filter(sender="agent", enterprise=enterprise).count() == 20
    batch = [NewMessage(v, "visitor", f"price {i}", f"d{i}") for i, v in enumerate(visitors)]
    with CaptureQueriesContext(connection) as queries:
        messages_create(batch)
    assert not [q for q in queries.captured_queries if "replies_keywordrule" in q["sql"]]


def test_a_change_in_this_process_is_read_at_the_next_message(enterprise, admin):
    rule(admin, "price", "p")
    keyword_rules.get(enterprise.pk)
    loads = keyword_rules.loads
    keyword_rules.get(enterprise.pk)
    assert keyword_rules.loads == loads
    cache.bump(enterprise.pk)  # outside a transaction: at once
    keyword_rules.get(enterprise.pk)
    assert keyword_rules.loads == loads + 1


def test_another_process_change_is_read_within_the_recheck_interval_and_the_token_costs_a_round_trip_per_second(
    enterprise, admin, monkeypatch
):
    """Another process's change reaches this one only through the shared token, which this process reads
    at most once per RECHECK_SECONDS: not once per message batch or login."""
    from django.core.cache import cache as shared

    clock = [1000.0]
    monkeypatch.setattr(cache.time, "monotonic", lambda: clock[0])
    rule(admin, "price", "p")
    keyword_rules.get(enterprise.pk)
    loads = keyword_rules.loads
    reads: list[Any] = []
    get_many = shared.get_many

    def counted(keys: Any) -> Any:
        reads.append(keys)
        return get_many(keys)

    monkeypatch.setattr(shared, "get_many", counted)
    shared.set(cache._key(enterprise.pk), "another process changed the rules", None)
    for _ in range(5):
        keyword_rules.get(enterprise.pk)
    assert keyword_rules.loads == loads and reads == []  # still within the second: no round trip
    clock[0] += cache.RECHECK_SECONDS
    keyword_rules.get(enterprise.pk)
    keyword_rules.get(enterprise.pk)
    assert keyword_rules.loads == loads + 1 and len(reads) == 1
