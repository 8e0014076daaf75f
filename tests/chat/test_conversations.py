"""Conversations through their services: routing, the queue, take, transfer, close, reopen, clearing,
agent status; every refusal; and what each publishes, to whom, after the commit."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from asgiref.sync import async_to_sync
from django.db import close_old_connections, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import AgentStatus, User
from accounts.permissions import ROLE_ENTERPRISE_ADMIN
from accounts.services import agent_create
from chat import frames, services
from chat.access import access_conversation, access_visitor_self
from chat.models import Conversation, Message, Visitor
from chat.realtime.presence import AGENT, Presence, get_presence
from chat.services import message_create
from core.errors import ChatError
from tests.conftest import AGENT_PASSWORD, login_visitor

# Transactions commit for real: events are published on commit, and some tests roll one back.
pytestmark = pytest.mark.django_db(transaction=True)

Status = Conversation.Status


def go_online(*agents: User) -> None:
    for agent in agents:
        async_to_sync(get_presence().join)(Presence(agent.enterprise_id or 0, AGENT, agent.pk, f"test.{agent.pk}"))


def fresh(visitor: Any) -> Any:
    """The visitor as the next request or socket loads it: a visitor object caches its open conversation,
    and the sockets holding one learn of changes from the events (tested in test_conversation_sockets)."""
    return access_visitor_self(enterprise_id=visitor.enterprise_id, visitor_pk=visitor.pk)


def write(visitor: Any, text: str = "hello", client_id: str | None = None) -> Message:
    return message_create(visitor=visitor, sender="visitor", content=text, client_id=client_id or text)[0]


def conversation_for(visitor: Any) -> Conversation:
    return Conversation.objects.select_related("assignee").get(open_visitor=visitor)


def frames_of(sent: list[tuple[str, dict[str, Any]]], kind: str, group: str | None = None) -> list[dict[str, Any]]:
    return [frame["data"] for g, frame in sent if frame["type"] == kind and (group is None or g == group)]


def lines(conversation: Conversation) -> list[str]:
    return list(
        Message.objects.filter(conversation=conversation, kind="event").order_by("pk").values_list("content", flat=True)
    )


@pytest.fixture
def admin(enterprise: Any, agent: User) -> User:
    return agent_create(
        enterprise=enterprise, username="boss", password=AGENT_PASSWORD, nickname="Boss", role=ROLE_ENTERPRISE_ADMIN
    )


# --- routing -----------------------------------------------------------------------------------------


def test_a_visitors_first_message_opens_a_conversation_with_the_agent_they_asked_for(enterprise, agent, second_agent):
    go_online(agent, second_agent)
    visitor = login_visitor(enterprise, second_agent).visitor
    message = write(visitor)
    conversation = conversation_for(visitor)
    assert message.conversation_id == conversation.pk
    assert (conversation.status, conversation.assignee_id) == (Status.OPEN, second_agent.pk)
    # The next message joins it: one live conversation per visitor.
    assert write(visitor, "again").conversation_id == conversation.pk
    assert Conversation.objects.count() == 1


def test_without_the_asked_for_agent_the_least_loaded_online_agent_gets_it_ties_to_the_longest_idle(
    enterprise, agent, second_agent
):
    go_online(agent, second_agent)
    agent.status = AgentStatus.AWAY  # the asked-for agent is away: not routed to
    agent.save()
    first = login_visitor(enterprise, agent).visitor
    write(first)
    assert conversation_for(first).assignee_id == second_agent.pk
    agent.status = AgentStatus.ONLINE
    agent.save()
    second = login_visitor(enterprise).visitor
    write(second)
    assert conversation_for(second).assignee_id == agent.pk  # Alice had none, Bob one
    # Equal loads: the one whose last conversation came longest ago.
    User.objects.filter(pk=agent.pk).update(last_assigned_at=timezone.now())
    User.objects.filter(pk=second_agent.pk).update(last_assigned_at=timezone.now() - timedelta(hours=1))
    third = login_visitor(enterprise).visitor
    write(third)
    assert conversation_for(third).assignee_id == second_agent.pk


def test_when_every_agent_is_full_or_offline_the_conversation_waits_and_the_visitor_learns_their_place(
    enterprise, agent, second_agent, published
):
    go_online(agent)  # Bob is offline
    agent.max_conversations = 1
    agent.save()
    write(login_visitor(enterprise).visitor, "first")
    waiting = [login_visitor(enterprise).visitor for _ in range(2)]
    for i, visitor in enumerate(waiting):
        write(visitor, f"w{i}")
    assert [conversation_for(v).status for v in waiting] == [Status.WAITING, Status.WAITING]
    places = [frames_of(published, "conversation", frames.group_visitor(v.pk))[-1]["conversation"] for v in waiting]
    assert [p["queue_position"] for p in places] == [1, 2]
    assert all(p["assignee"] is None for p in places)
    opened = frames_of(published, "conversation.updated", frames.group_agents(enterprise.pk))
    assert [u["conversation"]["status"] for u in opened] == ["open", "waiting", "waiting"]


def test_an_enterprise_limit_applies_unless_the_agent_has_their_own(enterprise, agent):
    go_online(agent)
    enterprise.max_conversations_per_agent = 1
    enterprise.save()
    write(login_visitor(enterprise).visitor, "a")
    late = login_visitor(enterprise).visitor
    write(late, "b")
    assert conversation_for(late).status == Status.WAITING
    agent.max_conversations = 0  # no limit for this agent (agent_limit_set would offer the queue too)
    agent.save()
    services.queue_offer(enterprise=enterprise)
    assert conversation_for(late).assignee_id == agent.pk
    third = login_visitor(enterprise).visitor
    write(third, "c")
    assert conversation_for(third).assignee_id == agent.pk


def test_a_newcomer_waits_behind_those_already_waiting_and_the_oldest_is_served_first(enterprise, agent, published):
    first = login_visitor(enterprise).visitor
    write(first, "first")  # nobody online: it waits
    go_online(agent)  # no event gave Alice the queue yet (say Redis was away when she came)
    second = login_visitor(enterprise, agent).visitor  # even asking for Alice
    write(second, "second")
    assert conversation_for(second).status == Status.WAITING
    place = frames_of(published, "conversation", frames.group_visitor(second.pk))[-1]["conversation"]
    assert place["queue_position"] == 2
    agent.max_conversations = 1
    agent.save()
    services.queues_offer_all()
    assert conversation_for(first).assignee_id == agent.pk
    assert conversation_for(second).status == Status.WAITING


def test_an_agent_coming_online_is_given_the_oldest_waiting_conversations(enterprise, agent, published):
    visitors = [login_visitor(enterprise).visitor for _ in range(2)]
    for i, visitor in enumerate(visitors):
        write(visitor, f"m{i}")
    go_online(agent)
    agent.max_conversations = 1
    agent.save()
    services.agent_presence_changed(agent=User.objects.select_related("enterprise").get(pk=agent.pk), online=True)
    first, second = (conversation_for(v) for v in visitors)
    assert (first.status, first.assignee_id) == (Status.OPEN, agent.pk)
    assert second.status == Status.WAITING
    assert lines(first) == ["assigned"]
    # The one still waiting moved up.
    assert (
        frames_of(published, "conversation", frames.group_visitor(visitors[1].pk))[-1]["conversation"]["queue_position"]
        == 1
    )
    status = frames_of(published, "agent.status", frames.group_agents(enterprise.pk))[-1]
    assert (status["id"], status["status"]) == (agent.pk, "online")


def test_closing_frees_a_slot_that_the_queue_fills_at_once(enterprise, agent):
    go_online(agent)
    agent.max_conversations = 1
    agent.save()
    served, waiting = login_visitor(enterprise).visitor, login_visitor(enterprise).visitor
    write(served, "a")
    write(waiting, "b")
    services.conversation_close(agent=agent, conversation_id=conversation_for(served).pk)
    assert conversation_for(waiting).assignee_id == agent.pk


# --- take --------------------------------------------------------------------------------------------


def test_the_first_taker_wins_and_the_second_hears_it_was_taken(enterprise, agent, second_agent, published):
    visitor = login_visitor(enterprise).visitor
    write(visitor)
    conversation = conversation_for(visitor)
    taken = services.conversation_take(agent=agent, conversation_id=conversation.pk)
    assert (taken.status, taken.assignee_id) == (Status.OPEN, agent.pk)
    with pytest.raises(ChatError) as refused:
        services.conversation_take(agent=second_agent, conversation_id=conversation.pk)
    assert (refused.value.code, refused.value.status) == ("already_taken", 409)
    assert lines(conversation) == ["taken"]
    change = frames_of(published, "conversation.updated")[-1]
    assert change["change"] == "taken" and change["conversation"]["assignee"]["id"] == agent.pk
    seen = frames_of(published, "conversation", frames.group_visitor(visitor.pk))[-1]["conversation"]
    assert seen["assignee"] == {"name": "Alice", "avatar": agent.avatar_url} and seen["queue_position"] is None


def test_a_take_that_loses_the_race_in_the_database_is_refused_too(enterprise, agent, second_agent):
    visitor = login_visitor(enterprise).visitor
    write(visitor)
    conversation = conversation_for(visitor)
    # Bob's process took it between Alice's read and her conditional update.
    real = access_conversation

    def read_then_lose(**kwargs: Any) -> Conversation:
        found = real(**kwargs)
        Conversation.objects.filter(pk=found.pk).update(status=Status.OPEN, assignee=second_agent)
        return found

    with mock.patch("chat.services.transfer.access_conversation", read_then_lose):
        with pytest.raises(ChatError) as refused:
            services.conversation_take(agent=agent, conversation_id=conversation.pk)
    assert refused.value.code == "already_taken"


def test_an_agent_at_their_limit_cannot_take_more(enterprise, agent):
    go_online(agent)
    agent.max_conversations = 1
    agent.save()
    write(login_visitor(enterprise).visitor, "a")
    waiting = login_visitor(enterprise).visitor
    write(waiting, "b")
    with pytest.raises(ChatError) as refused:
        services.conversation_take(agent=agent, conversation_id=conversation_for(waiting).pk)
    assert (refused.value.code, refused.value.status) == ("over_limit", 409)


def test_another_enterprises_conversation_is_not_found_exactly_like_a_missing_one(
    enterprise, agent, other_enterprise, other_agent
):
    visitor = login_visitor(enterprise).visitor
    write(visitor)
    theirs = conversation_for(visitor).pk
    answers = []
    for conversation_id in (theirs, 10**9, "nope", True, -1):
        for action in (
            services.conversation_take,
            services.conversation_close,
            services.conversation_reopen,
        ):
            with pytest.raises(ChatError) as refused:
                action(agent=other_agent, conversation_id=conversation_id)
            answers.append((refused.value.code, refused.value.status, refused.value.message))
    assert len(set(answers)) == 1 and answers[0][:2] == ("not_found", 404)
    assert conversation_for(visitor).status == Status.WAITING


def test_an_agent_without_the_permission_is_refused_before_anything_changes(enterprise, agent):
    visitor = login_visitor(enterprise).visitor
    write(visitor)
    conversation = conversation_for(visitor)
    agent.groups.clear()
    bare = User.objects.get(pk=agent.pk)  # permissions are cached per user object
    for action in (services.conversation_take, services.conversation_close):
        with pytest.raises(ChatError) as refused:
            action(agent=bare, conversation_id=conversation.pk)
        assert (refused.value.code, refused.value.status) == ("forbidden", 403)
    assert conversation_for(visitor).status == Status.WAITING


# --- transfer ----------------------------------------------------------------------------------------


def test_a_transfer_hands_over_with_a_note_for_the_new_assignee_alone(enterprise, agent, second_agent, published):
    go_online(agent, second_agent)
    visitor = login_visitor(enterprise, agent).visitor
    write(visitor)
    conversation = conversation_for(visitor)
    published.clear()
    moved = services.conversation_transfer(
        agent=agent, conversation_id=conversation.pk, to_agent_id=second_agent.pk, note="VIP, wants a refund"
    )
    assert moved.assignee_id == second_agent.pk
    assert lines(conversation) == ["transferred"]
    line = Message.objects.get(conversation=conversation, kind="event")
    assert line.meta is not None and line.meta["from"]["id"] == agent.pk and line.meta["to"]["id"] == second_agent.pk
    handed = frames_of(published, "conversation.transferred", frames.group_agent(second_agent.pk))
    assert handed[0]["note"] == "VIP, wants a refund" and handed[0]["from"]["id"] == agent.pk
    # The note goes nowhere else.
    elsewhere = [frame for group, frame in published if group != frames.group_agent(second_agent.pk)]
    assert "VIP" not in repr(elsewhere)
    seen = frames_of(published, "conversation", frames.group_visitor(visitor.pk))[-1]["conversation"]
    assert seen["assignee"]["name"] == "Bob"
    # The visitor's next message is in the same conversation, now Bob's.
    assert write(visitor, "still there?").conversation_id == conversation.pk


def test_a_transfer_to_an_offline_a_foreign_or_the_same_agent_is_refused(enterprise, agent, second_agent, other_agent):
    go_online(agent, other_agent)  # Bob is offline
    visitor = login_visitor(enterprise, agent).visitor
    write(visitor)
    pk = conversation_for(visitor).pk
    for target, code in [(second_agent, "agent_offline"), (other_agent, "not_found"), (agent, "same_agent")]:
        with pytest.raises(ChatError) as refused:
            services.conversation_transfer(agent=agent, conversation_id=pk, to_agent_id=target.pk)
        assert refused.value.code == code
    go_online(second_agent)
    second_agent.status = AgentStatus.OFFLINE  # chose to appear offline
    second_agent.save()
    with pytest.raises(ChatError) as refused:
        services.conversation_transfer(agent=agent, conversation_id=pk, to_agent_id=second_agent.pk)
    assert refused.value.code == "agent_offline"
    assert conversation_for(visitor).assignee_id == agent.pk


def test_a_transfer_to_an_agent_at_their_limit_is_refused(enterprise, agent, second_agent):
    go_online(agent, second_agent)
    second_agent.max_conversations = 1
    second_agent.save()
    write(login_visitor(enterprise, second_agent).visitor, "bob's")
    visitor = login_visitor(enterprise, agent).visitor
    write(visitor)
    with pytest.raises(ChatError) as refused:
        services.conversation_transfer(
            agent=agent, conversation_id=conversation_for(visitor).pk, to_agent_id=second_agent.pk
        )
    assert refused.value.code == "over_limit"


# --- close, reopen, idle, clear ---------------------------------------------------------------------


def test_a_closed_conversation_stays_in_history_and_the_visitors_next_message_opens_a_new_one(
    enterprise, agent, published
):
    go_online(agent)
    visitor = login_visitor(enterprise, agent).visitor
    first = write(visitor).conversation_id
    closed = services.conversation_close(agent=agent, conversation_id=first)
    assert (closed.status, closed.closed_by, closed.closed_by_agent_id) == (Status.CLOSED, "agent", agent.pk)
    assert closed.closed_at is not None
    seen = frames_of(published, "conversation", frames.group_visitor(visitor.pk))[-1]["conversation"]
    assert seen["status"] == "closed" and seen["closed_by"] == "agent"
    # Closing again changes nothing and announces nothing.
    published.clear()
    assert services.conversation_close(agent=agent, conversation_id=first).status == Status.CLOSED
    assert published == []
    second = write(fresh(visitor), "back again").conversation_id
    assert second != first
    assert list(Conversation.objects.filter(visitor=visitor).values_list("status", flat=True).order_by("pk")) == [
        "closed",
        "open",
    ]


def test_a_visitor_ends_their_own_conversation(enterprise, agent):
    visitor = login_visitor(enterprise).visitor
    write(visitor)
    closed = services.conversation_close_by_visitor(visitor=visitor)
    assert closed is not None and (closed.status, closed.closed_by) == (Status.CLOSED, "visitor")
    assert services.conversation_close_by_visitor(visitor=visitor) is None


def test_reopening_serves_the_conversation_unless_the_visitor_has_another_one(enterprise, agent, second_agent):
    go_online(agent)
    visitor = login_visitor(enterprise).visitor
    first = write(visitor).conversation_id
    services.conversation_close(agent=agent, conversation_id=first)
    with pytest.raises(ChatError) as refused:
        services.conversation_reopen(agent=agent, conversation_id=write(fresh(visitor), "new").conversation_id)
    assert refused.value.code == "not_closed"
    with pytest.raises(ChatError) as refused:
        services.conversation_reopen(agent=agent, conversation_id=first)
    assert refused.value.code == "conversation_open"
    services.conversation_close(agent=agent, conversation_id=conversation_for(visitor).pk)
    reopened = services.conversation_reopen(agent=second_agent, conversation_id=first)
    assert (reopened.status, reopened.assignee_id, reopened.closed_at) == (Status.OPEN, second_agent.pk, None)
    assert conversation_for(visitor).pk == first
    assert lines(reopened)[-1] == "reopened"


def test_idle_conversations_close_after_the_enterprises_time_and_not_before(enterprise, agent, other_enterprise):
    enterprise.auto_close_minutes = 30
    enterprise.save()
    other_enterprise.auto_close_minutes = 0  # never
    other_enterprise.save()
    idle, busy = login_visitor(enterprise).visitor, login_visitor(enterprise).visitor
    forever = login_visitor(other_enterprise).visitor
    for visitor in (idle, busy, forever):
        write(visitor)
    long_ago = timezone.now() - timedelta(minutes=31)
    Conversation.objects.update(last_activity_at=long_ago)
    # The busy visitor wrote a minute ago: their conversation's last activity is that message.
    Visitor.objects.exclude(pk=busy.pk).update(last_message_at=long_ago)
    Visitor.objects.filter(pk=busy.pk).update(last_message_at=timezone.now() - timedelta(minutes=1))
    assert services.conversations_close_idle() == 1
    closed = Conversation.objects.get(visitor=idle)
    assert (closed.status, closed.closed_by) == (Status.CLOSED, "system")
    assert closed.last_activity_at == long_ago
    assert conversation_for(busy).status == Status.WAITING
    assert conversation_for(forever).status == Status.WAITING
    assert lines(closed) == ["closed"]


def test_clearing_a_visitors_history_needs_the_permission_and_reaches_every_view(enterprise, agent, admin, published):
    visitor = login_visitor(enterprise).visitor
    write(visitor)
    with pytest.raises(ChatError) as refused:
        services.visitor_history_clear(agent=agent, visitor_id=visitor.visitor_id)
    assert refused.value.code == "forbidden"
    services.visitor_history_clear(agent=admin, visitor_id=visitor.visitor_id)
    assert not Message.objects.filter(visitor=visitor).exists()
    assert not Conversation.objects.filter(visitor=visitor).exists()
    cleared = {(group, frame["type"]) for group, frame in published if frame["type"] == "visitor.cleared"}
    assert cleared == {
        (frames.group_agents(enterprise.pk), "visitor.cleared"),
        (frames.group_visitor(visitor.pk), "visitor.cleared"),
    }
    # The next message opens a new conversation.
    assert write(fresh(visitor), "hello again").conversation_id == conversation_for(visitor).pk


# --- agent status ----------------------------------------------------------------------------------


def test_an_agent_sets_their_status_and_colleagues_hear_it(enterprise, agent, published):
    go_online(agent)
    payload = services.agent_status_set(agent=agent, status="away")
    assert payload["status"] == "away" and User.objects.get(pk=agent.pk).status == "away"
    assert frames_of(published, "agent.status", frames.group_agents(enterprise.pk))[-1]["status"] == "away"
    with pytest.raises(ChatError) as refused:
        services.agent_status_set(agent=agent, status="asleep")
    assert refused.value.code == "bad_status"


def test_an_agent_without_a_socket_shows_offline_whatever_they_chose(enterprise, agent):
    payload = services.agent_status_set(agent=agent, status="online")
    assert (payload["status"], payload["chosen"]) == ("offline", "online")


# --- the rules ----------------------------------------------------------------------------------------


def test_a_change_is_published_only_after_its_transaction_commits(enterprise, agent, published):
    visitor = login_visitor(enterprise).visitor
    write(visitor)
    pk = conversation_for(visitor).pk
    published.clear()
    with pytest.raises(RuntimeError), transaction.atomic():
        services.conversation_take(agent=agent, conversation_id=pk)
        raise RuntimeError("rolled back")
    assert published == []
    assert conversation_for(visitor).status == Status.WAITING
    with transaction.atomic():
        services.conversation_take(agent=agent, conversation_id=pk)
        assert published == []
    assert [frame["type"] for _group, frame in published].count("conversation.updated") == 1


def test_a_known_conversation_costs_no_query_per_message(enterprise, agent):
    visitor = login_visitor(enterprise).visitor
    write(visitor, "opens it")
    with CaptureQueriesContext(connection) as queries:
        write(visitor, "second")
        write(visitor, "third")
    # One INSERT each; nothing reads or locks the conversation (its last activity waits 10 s).
    assert [q["sql"].split()[0] for q in queries.captured_queries] == ["INSERT", "INSERT"]


@pytest.mark.skipif(connection.vendor == "sqlite", reason="needs a database that serves two connections at once")
def test_two_agents_taking_at_the_same_moment_on_their_own_connections_one_wins(enterprise, agent, second_agent):
    visitor = login_visitor(enterprise).visitor
    write(visitor)
    pk = conversation_for(visitor).pk
    start = threading.Barrier(2)
    outcomes: dict[int, str] = {}

    def take(who: User) -> None:
        try:
            start.wait()
            services.conversation_take(agent=User.objects.get(pk=who.pk), conversation_id=pk)
            outcomes[who.pk] = "ok"
        except ChatError as exc:
            outcomes[who.pk] = exc.code
        finally:
            close_old_connections()

    threads = [threading.Thread(target=take, args=(who,)) for who in (agent, second_agent)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(outcomes.values()) == ["already_taken", "ok"]
    winner = next(pk for pk, outcome in outcomes.items() if outcome == "ok")
    assert conversation_for(visitor).assignee_id == winner
    assert lines(conversation_for(visitor)) == ["taken"]


def test_the_periodic_pass_gives_out_a_queue_that_no_event_did(enterprise, agent, other_enterprise):
    waiting = login_visitor(enterprise).visitor
    write(waiting)  # nobody online: it waits
    write(login_visitor(other_enterprise).visitor, "elsewhere")
    go_online(agent)  # online, but (say) while Redis was away: nothing offered it the queue
    assert services.queues_offer_all() == 1
    assert conversation_for(waiting).assignee_id == agent.pk
    assert services.queues_offer_all() == 0


def test_a_live_conversations_last_activity_is_its_visitors_last_message_without_an_update_per_message(
    enterprise, agent
):
    visitor = login_visitor(enterprise).visitor
    write(visitor, "first")
    opened_at = conversation_for(visitor).last_activity_at
    later = timezone.now() + timedelta(minutes=5)
    Visitor.objects.filter(pk=visitor.pk).update(last_message_at=later)
    conversation = Conversation.objects.select_related("visitor", "assignee").get(visitor=visitor)
    assert conversation.last_activity_at == opened_at  # the row itself was not touched
    payload = frames.conversation_payload(conversation, visitor.visitor_id)
    assert payload["last_activity_at"] == later.isoformat()
    closed = services.conversation_close(agent=agent, conversation_id=conversation.pk)
    assert Conversation.objects.get(pk=closed.pk).last_activity_at == later  # kept as it was when it ended
