"""A digest holds what arrived while the agent was away and is still unread: never what they read and answered
in the console before leaving."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync

from accounts.models import User
from chat.realtime.presence import AGENT, Presence, get_presence
from chat.services import messages_mark_read
from notices.alerts import alerts_sweep
from tests.conftest import login_visitor
from tests.notices.test_alerts import Inbox, assign, inbox, later, opt_in, say

pytestmark = pytest.mark.django_db

__all__ = ["inbox"]  # the fixture, shared with test_alerts


def test_what_the_agent_read_and_answered_before_going_away_is_not_mailed(
    inbox: Inbox, enterprise: Any, agent: User
) -> None:
    opt_in(agent)
    presence = Presence(enterprise.pk, AGENT, agent.pk, "agent-channel")
    async_to_sync(get_presence().join)(presence)  # the console is open
    mia = login_visitor(enterprise, agent, visitor_name="Mia").visitor
    assign(mia, agent)
    asked = say(mia, "what are your opening hours?")
    say(mia, "and on sundays?")
    messages_mark_read(agent=agent, visitor=mia, up_to=asked.pk + 1)  # read in the console...
    say(mia, "9 to 5, closed on sundays", sender="agent", agent=agent)  # ...and answered
    # No sweep came while the console was open (one comes every ALERT_SWEEP_SECONDS); now the agent leaves.
    async_to_sync(get_presence().leave)(presence)
    say(mia, "thanks! one more thing")
    quinn = login_visitor(enterprise, None, visitor_name="Quinn").visitor
    assign(quinn, None)
    say(quinn, "anyone there?")

    assert alerts_sweep(now=later()).sent == 1

    body = inbox.bodies()[0]
    assert "thanks! one more thing" in body and "anyone there?" in body
    assert "opening hours" not in body and "on sundays" not in body
    assert "2 new messages from 2 visitors" in str(inbox.mails[0]["Subject"])


def test_what_a_colleague_read_while_the_agent_was_away_is_not_mailed(
    inbox: Inbox, enterprise: Any, agent: User, second_agent: User
) -> None:
    opt_in(agent)
    queued = login_visitor(enterprise, None, visitor_name="Quinn").visitor
    assign(queued, None)
    seen = say(queued, "read by bob")
    messages_mark_read(agent=second_agent, visitor=queued, up_to=seen.pk)
    mine = login_visitor(enterprise, agent, visitor_name="Mia").visitor
    assign(mine, agent)
    say(mine, "still unread")

    assert alerts_sweep(now=later()).sent == 1
    body = inbox.bodies()[0]
    assert "still unread" in body and "read by bob" not in body


def test_nothing_is_mailed_when_everything_new_was_read(inbox: Inbox, enterprise: Any, agent: User) -> None:
    opt_in(agent)
    visitor = login_visitor(enterprise, agent).visitor
    assign(visitor, agent)
    message = say(visitor, "hello")
    messages_mark_read(agent=agent, visitor=visitor, up_to=message.pk)
    assert alerts_sweep(now=later()).sent == 0
    assert inbox.mails == []
    # ...and those read messages are behind the agent for good: the next unread one is mailed alone.
    say(visitor, "hello again")
    assert alerts_sweep(now=later(20)).sent == 1
    assert "hello again" in inbox.bodies()[0] and "hello\n" not in inbox.bodies()[0]
