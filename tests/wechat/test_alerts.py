"""Template messages to agents who bound their WeChat (wechat/alerts.py), against the fake WeChat: one per window
to an away agent, about new visitors or new messages, claimed so that two sweeps send once, retried after a
backoff when WeChat fails, never to an agent who is here, opted out, or bound elsewhere."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from django.utils import timezone

from accounts.models import User
from chat import hooks
from chat.models import Conversation, Message
from chat.realtime.presence import AGENT, Presence, get_presence
from chat.services import message_create
from enterprises.models import Enterprise
from tests.conftest import login_visitor
from wechat import alerts
from wechat.alerts import agent_alerts_sweep
from wechat.models import WechatAccount, WechatAgentBinding

from .fakeserver import TEMPLATE_SEND_PATH, FakeWechat

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("wechat_keys", "english_platform")]

TPL_VISITOR = "V" * 20 + "_visitor-template_" + "v" * 5  # 43 characters, as WeChat's console shows them
TPL_MESSAGE = "M" * 20 + "_message-template_" + "m" * 5
REMARK = "Reply within 5 minutes, please."


def later(seconds: float = 10) -> dt.datetime:
    return timezone.now() + dt.timedelta(seconds=seconds)


_counter = iter(range(10**6))


def say(visitor: Any, text: str, sender: str = "visitor", agent: User | None = None) -> Message:
    message, _created = message_create(
        visitor=visitor, sender=sender, content=text, client_id=f"c{next(_counter)}", agent=agent
    )
    return message


def assign(visitor: Any, agent: User | None) -> None:
    status = Conversation.Status.OPEN if agent else Conversation.Status.WAITING
    Conversation.objects.filter(visitor=visitor).exclude(status=Conversation.Status.CLOSED).update(
        status=status, assignee=agent
    )


def templates(account: WechatAccount, **fields: str) -> None:
    values = {"template_new_visitor": TPL_VISITOR, "template_new_message": TPL_MESSAGE, "template_remark": REMARK}
    WechatAccount.objects.filter(pk=account.pk).update(**{**values, **fields})


def bind(agent: User, account: WechatAccount, fake: FakeWechat, **fields: Any) -> WechatAgentBinding:
    """What the QR-code flow leaves: the agent's WeChat, a follower of the account."""
    values = {"enterprise_id": account.enterprise_id, "account": account, "agent": agent, **fields}
    return WechatAgentBinding.objects.create(openid=fake.add_follower(), **values)


def sent(fake: FakeWechat) -> list[dict[str, Any]]:
    """The template messages the fake accepted."""
    return [
        call.json
        for call in fake.calls(TEMPLATE_SEND_PATH)
        if isinstance(call.answer, dict) and call.answer.get("errcode") == 0
    ]


@pytest.fixture
def account(wechat_account: WechatAccount) -> WechatAccount:
    templates(wechat_account)
    wechat_account.refresh_from_db()
    return wechat_account


@pytest.fixture
def binding(agent: User, account: WechatAccount, fake_wechat: FakeWechat) -> WechatAgentBinding:
    return bind(agent, account, fake_wechat)


def test_an_away_agent_gets_one_new_visitor_template_with_name_preview_time_and_remark(
    enterprise: Enterprise, agent: User, binding: WechatAgentBinding, fake_wechat: FakeWechat, settings: Any
) -> None:
    mia = login_visitor(enterprise, agent, visitor_name="Mia").visitor
    first = say(mia, "hello from mia")
    assign(mia, agent)
    last = say(mia, "img[/media/abc]")

    result = agent_alerts_sweep(now=later())

    assert (result.sent, result.failed) == (1, 0)
    [tpl] = sent(fake_wechat)
    assert tpl["touser"] == binding.openid and tpl["template_id"] == TPL_VISITOR
    assert tpl["url"] == settings.GOFLY["SITE_URL"] + "/console"
    data = tpl["data"]
    assert data["first"]["value"] == "1 new visitor wrote while you were away."
    assert data["keyword1"]["value"] == "Mia"
    assert data["keyword2"]["value"] == "[Image]"  # notices' preview of the latest message
    assert data["keyword3"]["value"] == timezone.localtime(last.created_at).strftime("%Y-%m-%d %H:%M")
    assert data["remark"]["value"] == REMARK
    binding.refresh_from_db()
    assert binding.alerted_up_to == last.pk > first.pk and binding.last_alert_at is not None
    assert (binding.failures, binding.next_attempt_at, binding.last_error) == (0, None, "")
    # Told once: nothing more, even long after the window.
    assert agent_alerts_sweep(now=later(3600)).sent == 0
    assert len(sent(fake_wechat)) == 1


def test_messages_of_a_known_visitor_use_the_new_message_template_and_skip_notes_and_agents(
    enterprise: Enterprise, agent: User, binding: WechatAgentBinding, fake_wechat: FakeWechat
) -> None:
    mia = login_visitor(enterprise, agent, visitor_name="Mia").visitor
    say(mia, "first visit")
    assign(mia, agent)
    WechatAgentBinding.objects.filter(pk=binding.pk).update(alerted_up_to=Message.objects.order_by("-id")[0].pk)
    say(mia, "back again")
    say(mia, "reply from alice", sender="agent", agent=agent)
    say(mia, "VIP customer", sender="note", agent=agent)

    assert agent_alerts_sweep(now=later()).sent == 1

    [tpl] = sent(fake_wechat)
    assert tpl["template_id"] == TPL_MESSAGE
    assert tpl["data"]["first"]["value"] == "1 new message while you were away, from 1 visitor."
    assert tpl["data"]["keyword2"]["value"] == "back again"


def test_a_new_visitor_among_known_ones_makes_one_new_visitor_template_that_counts_every_message(
    enterprise: Enterprise, agent: User, binding: WechatAgentBinding, fake_wechat: FakeWechat
) -> None:
    mia = login_visitor(enterprise, agent, visitor_name="Mia").visitor
    say(mia, "first visit")
    assign(mia, agent)
    WechatAgentBinding.objects.filter(pk=binding.pk).update(alerted_up_to=Message.objects.order_by("-id")[0].pk)
    say(mia, "back again")
    quinn = login_visitor(enterprise, None, visitor_name="Quinn").visitor
    say(quinn, "hi, new here")
    assign(quinn, None)

    assert agent_alerts_sweep(now=later()).sent == 1

    [tpl] = sent(fake_wechat)
    assert tpl["template_id"] == TPL_VISITOR
    assert tpl["data"]["first"]["value"] == "1 new visitor wrote while you were away. 2 new messages in all."
    assert (tpl["data"]["keyword1"]["value"], tpl["data"]["keyword2"]["value"]) == ("Quinn", "hi, new here")
    assert agent_alerts_sweep(now=later(3600)).sent == 0  # Mia's message was in it: not told again


def test_new_visitors_without_a_new_visitor_template_go_by_the_new_message_template(
    enterprise: Enterprise, agent: User, account: WechatAccount, binding: WechatAgentBinding, fake_wechat: FakeWechat
) -> None:
    templates(account, template_new_visitor="", template_remark="")
    queued = login_visitor(enterprise, None, visitor_name="Quinn").visitor
    say(queued, "anyone there?")
    assign(queued, None)
    say(queued, "hello?")

    assert agent_alerts_sweep(now=later()).sent == 1

    [tpl] = sent(fake_wechat)
    assert tpl["template_id"] == TPL_MESSAGE
    assert tpl["data"]["first"]["value"] == "2 new messages while you were away, from 1 visitor."
    assert tpl["data"]["remark"]["value"] == "Open the console to answer."  # no remark configured


def test_with_no_template_for_agents_nothing_is_sent_and_the_messages_are_not_told_later(
    enterprise: Enterprise, agent: User, account: WechatAccount, binding: WechatAgentBinding, fake_wechat: FakeWechat
) -> None:
    templates(account, template_new_visitor="", template_new_message="")
    mia = login_visitor(enterprise, agent).visitor
    say(mia, "nobody told")
    assert agent_alerts_sweep(now=later()).sent == 0
    assert fake_wechat.count(TEMPLATE_SEND_PATH) == 0
    templates(account, template_new_visitor="", template_new_message=TPL_MESSAGE)
    say(mia, "now told")
    assert agent_alerts_sweep(now=later(20)).sent == 1
    assert [tpl["data"]["keyword2"]["value"] for tpl in sent(fake_wechat)] == ["now told"]


def test_only_the_new_visitor_template_configured_sends_nothing_for_known_visitors(
    enterprise: Enterprise, agent: User, account: WechatAccount, binding: WechatAgentBinding, fake_wechat: FakeWechat
) -> None:
    templates(account, template_new_message="")
    mia = login_visitor(enterprise, agent).visitor
    say(mia, "first")
    assign(mia, agent)
    assert agent_alerts_sweep(now=later()).sent == 1
    say(mia, "second")
    assert agent_alerts_sweep(now=later(3600)).sent == 0
    assert [tpl["template_id"] for tpl in sent(fake_wechat)] == [TPL_VISITOR]


def test_an_agent_who_is_here_gets_nothing_and_later_templates_skip_what_they_saw(
    enterprise: Enterprise, agent: User, binding: WechatAgentBinding, fake_wechat: FakeWechat
) -> None:
    mia = login_visitor(enterprise, agent).visitor
    presence = Presence(enterprise.pk, AGENT, agent.pk, "agent-channel")
    async_to_sync(get_presence().join)(presence)
    say(mia, "seen live")
    assert agent_alerts_sweep(now=later()).skipped_online == 1
    assert fake_wechat.count(TEMPLATE_SEND_PATH) == 0
    async_to_sync(get_presence().leave)(presence)
    say(mia, "while away")
    assert agent_alerts_sweep(now=later(20)).sent == 1
    [tpl] = sent(fake_wechat)
    assert tpl["template_id"] == TPL_MESSAGE and tpl["data"]["keyword2"]["value"] == "while away"


def test_a_connected_agent_whose_status_is_away_is_told(
    enterprise: Enterprise, agent: User, binding: WechatAgentBinding, fake_wechat: FakeWechat
) -> None:
    User.objects.filter(pk=agent.pk).update(status="away")
    async_to_sync(get_presence().join)(Presence(enterprise.pk, AGENT, agent.pk, "agent-channel"))
    say(login_visitor(enterprise, agent).visitor, "are you there")
    assert agent_alerts_sweep(now=later()).sent == 1


def test_alerts_off_an_inactive_agent_or_a_disabled_account_get_nothing(
    enterprise: Enterprise,
    agent: User,
    second_agent: User,
    account: WechatAccount,
    binding: WechatAgentBinding,
    fake_wechat: FakeWechat,
) -> None:
    WechatAgentBinding.objects.filter(pk=binding.pk).update(alerts_enabled=False)
    bind(second_agent, account, fake_wechat)
    User.objects.filter(pk=second_agent.pk).update(is_active=False)
    queued = login_visitor(enterprise, None).visitor
    say(queued, "in the queue")
    assign(queued, None)
    assert agent_alerts_sweep(now=later()).sent == 0
    WechatAgentBinding.objects.filter(pk=binding.pk).update(alerts_enabled=True)
    WechatAccount.objects.filter(pk=account.pk).update(is_enabled=False)
    assert agent_alerts_sweep(now=later()).sent == 0
    assert fake_wechat.count(TEMPLATE_SEND_PATH) == 0


def test_a_binding_of_another_enterprise_hears_nothing_of_this_one(
    enterprise: Enterprise,
    agent: User,
    other_enterprise: Enterprise,
    other_agent: User,
    account: WechatAccount,
    fake_wechat: FakeWechat,
) -> None:
    # A binding row naming this enterprise for an agent of another one (and the other way round): neither is
    # an agent of the enterprise whose visitors write, so neither is told.
    bind(other_agent, account, fake_wechat)
    other_account = WechatAccount.objects.create(enterprise=other_enterprise, is_enabled=True)
    templates(other_account)
    bind(agent, other_account, fake_wechat, enterprise_id=enterprise.pk)
    queued = login_visitor(enterprise, None).visitor
    say(queued, "for acme's agents only")
    assign(queued, None)
    assert agent_alerts_sweep(now=later()).sent == 0
    assert fake_wechat.count(TEMPLATE_SEND_PATH) == 0


def test_messages_within_the_window_wait_for_it_to_pass_and_make_one_template(
    enterprise: Enterprise, agent: User, binding: WechatAgentBinding, fake_wechat: FakeWechat, settings: Any
) -> None:
    settings.GOFLY = {**settings.GOFLY, "ALERT_DIGEST_MINUTES": 5}
    mia = login_visitor(enterprise, agent).visitor
    say(mia, "first")
    assign(mia, agent)
    assert agent_alerts_sweep(now=later()).sent == 1
    say(mia, "second")
    say(mia, "third")
    assert agent_alerts_sweep(now=later(60)).sent == 0  # within 5 minutes of the last one
    assert agent_alerts_sweep(now=later(4 * 60)).sent == 0
    assert agent_alerts_sweep(now=later(6 * 60)).sent == 1
    [_first, tpl] = sent(fake_wechat)
    assert tpl["data"]["first"]["value"] == "2 new messages while you were away, from 1 visitor."
    assert tpl["data"]["keyword2"]["value"] == "third"


def test_a_failure_is_retried_after_a_backoff_and_nothing_is_lost(
    enterprise: Enterprise, agent: User, binding: WechatAgentBinding, fake_wechat: FakeWechat
) -> None:
    mia = login_visitor(enterprise, agent).visitor
    say(mia, "do not lose me")
    fake_wechat.fail_errcode(-1, "system error", times=2, path=TEMPLATE_SEND_PATH)
    now = later()
    assert agent_alerts_sweep(now=now).failed == 1
    binding.refresh_from_db()
    assert (binding.failures, binding.alerted_up_to, binding.last_alert_at) == (1, 0, None)
    assert "-1" in binding.last_error and "system error" in binding.last_error
    assert binding.next_attempt_at == now + dt.timedelta(minutes=1)
    assert agent_alerts_sweep(now=now + dt.timedelta(seconds=30)).failed == 0  # not yet due: not even tried
    assert fake_wechat.count(TEMPLATE_SEND_PATH) == 1
    assert agent_alerts_sweep(now=now + dt.timedelta(seconds=61)).failed == 1
    binding.refresh_from_db()
    assert binding.failures == 2 and binding.next_attempt_at == now + dt.timedelta(seconds=61 + 120)
    assert agent_alerts_sweep(now=now + dt.timedelta(seconds=182)).sent == 1
    binding.refresh_from_db()
    assert (binding.failures, binding.next_attempt_at, binding.last_error) == (0, None, "")
    assert [tpl["data"]["keyword2"]["value"] for tpl in sent(fake_wechat)] == ["do not lose me"]


def test_an_unreachable_wechat_is_a_failure_retried_later(
    enterprise: Enterprise, agent: User, binding: WechatAgentBinding, fake_wechat: FakeWechat
) -> None:
    say(login_visitor(enterprise, agent).visitor, "hello")
    fake_wechat.fail_server_error(times=1, path=TEMPLATE_SEND_PATH)
    now = later()
    assert agent_alerts_sweep(now=now).failed == 1
    assert agent_alerts_sweep(now=now + dt.timedelta(seconds=61)).sent == 1


def test_a_claimed_binding_is_left_to_its_claimer_until_its_lease_runs_out(
    enterprise: Enterprise, agent: User, binding: WechatAgentBinding, fake_wechat: FakeWechat
) -> None:
    say(login_visitor(enterprise, agent).visitor, "hello")
    now = later()
    WechatAgentBinding.objects.filter(pk=binding.pk).update(next_attempt_at=now + alerts.LEASE)  # another process
    assert agent_alerts_sweep(now=now).sent == 0 and fake_wechat.count(TEMPLATE_SEND_PATH) == 0
    assert agent_alerts_sweep(now=now + alerts.LEASE + dt.timedelta(seconds=1)).sent == 1  # it died


@pytest.mark.django_db(transaction=True)
def test_two_processes_sweeping_at_once_send_one_template(
    enterprise: Enterprise, agent: User, binding: WechatAgentBinding, fake_wechat: FakeWechat
) -> None:
    say(login_visitor(enterprise, agent).visitor, "just once")
    now = later()
    start = threading.Barrier(2)
    results: list[int] = []

    def process() -> None:
        start.wait()
        try:
            results.append(agent_alerts_sweep(now=now).sent)
        finally:
            connection.close()

    threads = [threading.Thread(target=process) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results) == [0, 1]
    assert len(sent(fake_wechat)) == 1


def test_the_sweep_is_started_by_the_periodic_chore(
    enterprise: Enterprise, agent: User, binding: WechatAgentBinding, fake_wechat: FakeWechat, monkeypatch: Any
) -> None:
    assert alerts.on_heartbeat in hooks.periodic_chore._receivers
    ran: list[bool] = []
    monkeypatch.setattr(alerts, "agent_alerts_sweep", lambda: ran.append(True))
    monkeypatch.setattr(alerts, "_last", 0.0)

    async def beat() -> None:
        await alerts.on_heartbeat(None)
        await alerts.on_heartbeat(None)  # within ALERT_SWEEP_SECONDS: not again
        assert alerts._task is not None
        await alerts._task

    asyncio.run(beat())
    assert ran == [True]
