"""Batches: messages stored with one INSERT for many, arriving sockets looked up together, events published
in one round trip; each with the same answers as one by one."""

from __future__ import annotations

import asyncio
from typing import Any
from unittest import mock

import pytest
import redis.asyncio
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings as django_settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chat import batching, services
from chat.models import Message
from chat.realtime.layers import PubSubChannelLayer, group_send_many
from chat.selectors import SocketLookup, visitors_for_sockets
from chat.services import NewMessage, message_create, messages_create
from core.errors import ChatError
from tests.conftest import address_block, login_visitor


def _inserts(queries: list[dict[str, Any]]) -> list[str]:
    """The statements storing messages, not the timeline lines of conversations taken meanwhile."""
    return [
        q["sql"]
        for q in queries
        if q["sql"].startswith(('INSERT INTO "chat_message"', "INSERT INTO `chat_message`")) and "sys-" not in q["sql"]
    ]


@pytest.mark.django_db
def test_a_batch_is_stored_with_one_insert_in_the_order_sent(enterprise, agent):
    one = login_visitor(enterprise, agent).visitor
    two = login_visitor(enterprise, agent).visitor
    batch = [
        NewMessage(one, "visitor", "first", "a"),
        NewMessage(two, "visitor", "second", "a"),
        NewMessage(one, "agent", "third", "a", agent),
    ]
    with CaptureQueriesContext(connection) as queries:
        results = messages_create(batch)
    stored = [result for result in results if isinstance(result, tuple)]
    assert [(m.content, created) for m, created in stored] == [("first", True), ("second", True), ("third", True)]
    ids = [m.pk for m, _ in stored]
    assert ids == sorted(ids) and len(set(ids)) == 3
    if connection.features.can_return_rows_from_bulk_insert:
        assert len(_inserts(queries.captured_queries)) == 1
    # Both visitors' last-message time in one UPDATE (it is their live conversations' last activity too).
    updates = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    assert sum("chat_visitor" in sql for sql in updates) == 1
    one.refresh_from_db()
    two.refresh_from_db()
    assert one.last_message_at is not None and two.last_message_at is not None


@pytest.mark.django_db
def test_a_resent_client_id_in_a_batch_gives_the_stored_message_and_the_rest_are_stored(visitor_login_result):
    visitor = visitor_login_result.visitor
    earlier, _ = message_create(visitor=visitor, sender="visitor", content="earlier", client_id="c1")
    results = messages_create(
        [
            NewMessage(visitor, "visitor", "new one", "c2"),
            NewMessage(visitor, "visitor", "earlier", "c1"),
            NewMessage(visitor, "visitor", "new two", "c3"),
            NewMessage(visitor, "visitor", "new two", "c3"),  # the same send twice in one batch
        ]
    )
    assert not any(isinstance(result, ChatError) for result in results)
    pairs = [(m.client_id, m.pk, created) for m, created in results]  # type: ignore[union-attr, misc]
    assert pairs[1] == ("c1", earlier.pk, False)
    assert pairs[0][2] is True and pairs[2][2] is True
    assert pairs[3] == ("c3", pairs[2][1], False)
    assert Message.objects.filter(visitor=visitor).count() == 3


@pytest.mark.django_db
def test_refusals_in_a_batch_are_answered_one_by_one_and_stop_nothing_else(visitor_login_result, other_agent, settings):
    settings.GOFLY = {**settings.GOFLY, "RATE_VISITOR_MESSAGES": (2, 10)}
    visitor = visitor_login_result.visitor
    results = messages_create(
        [
            NewMessage(visitor, "visitor", "1", "1"),
            NewMessage(visitor, "visitor", "   ", "2"),
            NewMessage(visitor, "agent", "intruder", "3", other_agent),
            NewMessage(visitor, "visitor", "4", "4"),
            NewMessage(visitor, "visitor", "5", "5"),
            NewMessage(visitor, "visitor", "6", "x" * 65),
        ]
    )
    codes = [result.code if isinstance(result, ChatError) else "stored" for result in results]
    assert codes == ["stored", "empty", "not_found", "stored", "rate_limited", "bad_client_id"]
    assert sorted(Message.objects.values_list("content", flat=True)) == ["1", "4"]


@pytest.mark.django_db
def test_an_agent_names_visitors_by_public_id_only_within_its_enterprise(enterprise, agent, other_enterprise):
    mine = login_visitor(enterprise, agent).visitor
    theirs = login_visitor(other_enterprise).visitor
    with CaptureQueriesContext(connection) as queries:
        results = messages_create(
            [
                NewMessage(None, "agent", "hello", "a1", agent, visitor_id=mine.visitor_id),
                NewMessage(None, "agent", "hello", "a2", agent, visitor_id=theirs.visitor_id),
                NewMessage(None, "agent", "hello", "a3", agent, visitor_id=["not", "an", "id"]),
            ]
        )
    assert sum(q["sql"].startswith("SELECT") for q in queries.captured_queries) == 1
    stored, created = results[0]  # type: ignore[misc]
    assert created and stored.visitor == mine
    assert [r.code for r in results[1:]] == ["not_found", "not_found"]  # type: ignore[union-attr]
    assert Message.objects.count() == 1


@pytest.mark.django_db(transaction=True)
async def test_concurrent_senders_share_database_calls_and_each_hears_its_own_answer(enterprise, agent):
    visitors = [(await database_sync_to_async(login_visitor)(enterprise, agent)).visitor for _ in range(3)]
    calls: list[int] = []
    real = services.messages_create

    def counting(batch: list[NewMessage]) -> Any:
        calls.append(len(batch))
        return real(batch)

    sends = [NewMessage(visitors[k % 3], "visitor", f"m{k}", f"c{k}") for k in range(30)]
    sends.append(NewMessage(visitors[0], "visitor", "", "empty"))
    with mock.patch.object(services, "messages_create", counting):
        results = await asyncio.gather(*(batching.message_create(new) for new in sends), return_exceptions=True)
    assert sum(calls) == 31 and len(calls) < 31  # the first alone, the rest waited and went together
    assert isinstance(results[-1], ChatError) and results[-1].code == "empty"
    stored = [result[0] for result in results[:-1] if isinstance(result, tuple)]
    assert [m.content for m in stored] == [f"m{k}" for k in range(30)]
    ids = [m.pk for m in stored]
    assert ids == sorted(ids)


@pytest.mark.django_db(transaction=True)
async def test_a_failing_database_call_fails_every_message_of_its_batch_and_the_next_batch_works(
    visitor_login_result,
):
    visitor = visitor_login_result.visitor
    with mock.patch.object(services, "messages_create", side_effect=RuntimeError("database gone")):
        with pytest.raises(RuntimeError):
            await batching.message_create(NewMessage(visitor, "visitor", "lost?", "f1"))
    message, created = await batching.message_create(NewMessage(visitor, "visitor", "again", "f1"))
    assert created and message.content == "again"


@pytest.mark.skipif(not django_settings.REDIS_URL, reason="the batched layer is the Redis deployment's")
async def test_the_redis_layer_sends_a_batch_to_each_group_in_order_serialising_a_shared_event_once():
    layer = get_channel_layer()
    assert isinstance(layer, PubSubChannelLayer)
    first = await layer.new_channel()
    second = await layer.new_channel()
    await layer.group_add("batch.one", first)
    await layer.group_add("batch.two", second)
    await layer.group_add("batch.two", first)
    shared = {"type": "forward.frame", "frame": {"n": 1}}
    with mock.patch.object(layer, "serialize", wraps=layer.serialize) as serialize:
        await group_send_many(
            layer,
            [("batch.one", shared), ("batch.two", shared), ("batch.one", {"type": "forward.frame", "frame": {"n": 2}})],
        )
    assert serialize.call_count == 2
    got_first = [await asyncio.wait_for(layer.receive(first), 5) for _ in range(3)]
    assert [event["frame"]["n"] for event in got_first] == [1, 1, 2]
    assert (await asyncio.wait_for(layer.receive(second), 5))["frame"] == {"n": 1}
    for group, channel in [("batch.one", first), ("batch.two", second), ("batch.two", first)]:
        await layer.group_discard(group, channel)


async def _subscribers(name: str) -> int:
    client = redis.asyncio.Redis.from_url(django_settings.REDIS_URL)
    try:
        return int(dict(await client.pubsub_numsub(name))[name.encode()])
    finally:
        await client.aclose()


async def _eventually_unsubscribed(name: str) -> None:
    for _ in range(100):
        if await _subscribers(name) == 0:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{name} is still subscribed")


@pytest.mark.skipif(not django_settings.REDIS_URL, reason="the Redis deployment's layer")
async def test_a_closed_channel_is_unsubscribed_even_when_its_consumer_is_cancelled_twice():
    """Bench finding 7: daphne cancels a slow closing application again every second; upstream's
    cleanup, waiting for the shard behind thousands of others, was interrupted and leaked the channel."""
    layer = get_channel_layer()
    assert isinstance(layer, PubSubChannelLayer)
    channel = await layer.new_channel()
    assert await _subscribers(channel) == 1
    shard = layer._get_layer()._get_shard(channel)
    async with shard._lock:  # a closing storm: every unsubscription waits its turn
        receiving = asyncio.create_task(layer.receive(channel))
        await asyncio.sleep(0.01)
        receiving.cancel()
        await asyncio.sleep(0.01)
        receiving.cancel()
        with pytest.raises(asyncio.CancelledError):
            await receiving
    await _eventually_unsubscribed(channel)
    assert channel not in shard._subscribed_to


@pytest.mark.skipif(not django_settings.REDIS_URL, reason="the Redis deployment's layer")
async def test_a_group_left_and_joined_again_at_once_keeps_receiving_and_an_empty_one_is_unsubscribed():
    layer = get_channel_layer()
    assert isinstance(layer, PubSubChannelLayer)
    old, new = await layer.new_channel(), await layer.new_channel()
    await layer.group_add("rejoin", old)
    await layer.group_discard("rejoin", old)  # the visitor's tab closes...
    await layer.group_add("rejoin", new)  # ...and the reloaded one joins before the unsubscription runs
    await asyncio.sleep(0.1)
    await layer.group_send("rejoin", {"type": "forward.frame", "frame": {"n": 1}})
    assert (await asyncio.wait_for(layer.receive(new), 5))["frame"] == {"n": 1}
    await layer.group_discard("rejoin", new)
    await _eventually_unsubscribed(layer._get_layer()._get_group_channel_name("rejoin"))


@pytest.mark.django_db
def test_arriving_sockets_are_looked_up_together_and_each_refusal_is_its_own(enterprise, agent, other_enterprise):
    quiet = login_visitor(enterprise, agent).visitor
    chatty = login_visitor(enterprise, agent).visitor
    stored, _ = message_create(visitor=chatty, sender="visitor", content="anyone there?", client_id="q1")
    theirs = login_visitor(other_enterprise).visitor
    address_block(enterprise=enterprise, ip="198.51.100.9")
    lookups = [
        SocketLookup(quiet.pk, enterprise.pk, "203.0.113.7"),
        SocketLookup(chatty.pk, enterprise.pk, None),
        SocketLookup(theirs.pk, enterprise.pk, None),  # a token of one enterprise naming another's visitor
        SocketLookup(quiet.pk, enterprise.pk, "198.51.100.9"),
        SocketLookup(999_999, enterprise.pk, None),
    ]
    with CaptureQueriesContext(connection) as queries:
        results = visitors_for_sockets(lookups)
    assert len(queries.captured_queries) <= 4
    first, second = results[0], results[1]
    assert isinstance(first, tuple) and first[0] == quiet and first[1]["last_message"] is None
    assert isinstance(second, tuple) and second[1]["last_message"]["id"] == stored.pk and second[1]["unread"] == 1
    assert second[1]["online"] is True and second[0].enterprise.offline_text == enterprise.offline_text
    assert [getattr(r, "code", None) for r in results[2:]] == ["not_found", "blacklisted", "not_found"]
