"""Template messages (模板消息) of the official account: to agents who bound their WeChat, about new visitors and
new messages while they are away; to followers, about a reply that WeChat's 48-hour window kept from them.

To agents
---------
The e-mail alerts' rules (notices.alerts), with a WeChat template in place of the mail: a periodic sweep
(every ALERT_SWEEP_SECONDS in each server process, started by chat.hooks.periodic_chore) reads each
enterprise's newest settled message id once and asks presence once per enterprise; an agent who is here
(connected and with status "online": notices.alerts.agent_here) has their watermark moved on; an away agent
with `alerts_enabled`, bound to the enterprise's own enabled account, gets at most one template message per
digest window (ALERT_DIGEST_MINUTES, `last_alert_at`) about the unread visitor messages of their
conversations and of the queue after `alerted_up_to`: the new-visitor template when a visitor among them
wrote for the first time (and that template is configured), else the new-message template.

The binding row is claimed with one conditional UPDATE that moves `next_attempt_at` a LEASE ahead: of two
processes (or two sweeps of one) only the winner sends; a process that dies while holding it leaves it to
the next sweep after the lease. `alerted_up_to` advances only after WeChat accepted the template (at least
once: a death between the two sends it again). A refusal or an unreachable WeChat keeps the watermark, counts
`failures`, keeps `last_error` and sets `next_attempt_at` after notices.alerts.backoff (1 min doubling up
to 1 h): nothing is lost, it is told later.

To followers
------------
``reply_notice_send`` is called by wechat.outbound when an agent's reply could not be sent as a
customer-service message because the window is closed (GoFly's own check, or WeChat's 45015): if the
account has a reply template, the follower still follows, is not reading the visitor page right now and was
not told within the digest window (`reply_alerted_at`, claimed with one conditional UPDATE), the template
tells them there is a reply and links to the chat page. Sent at most once per follower per window; a failed
send gives the window back, so the next reply tries again, and a busy or unreachable WeChat keeps the
delivery pending (outbound's backoff), so the notice is tried again with it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import groupby
from typing import Any
from urllib.parse import urlencode

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections, connections
from django.db.models import F, Q
from django.db.models.functions import Greatest
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from chat.models import Message
from chat.realtime.presence import AGENT, VISITOR, get_presence, online_now
from core import health
from enterprises.languages import default_language
from notices.alerts import (
    DIGEST_MAX_MESSAGES,
    SETTLE,
    agent_here,
    backoff,
    digest_window,
    new_conversations,
    newest_message_id,
    preview_text,
    unread_visitor_messages,
)

from .client import RATE_LIMITED, WechatError, WechatUnavailableError, wechat_client
from .models import WechatAgentBinding, WechatDelivery, WechatFollower

logger = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)  # a claimed binding is another process's again after this (its sender died)
VALUE_CHARS = 100  # a template field's value is kept short: WeChat cuts long ones
TIME_FORMAT = "%Y-%m-%d %H:%M"


@dataclass
class SweepResult:
    sent: int = 0
    failed: int = 0
    skipped_online: int = 0


def _value(text: str) -> dict[str, str]:
    text = " ".join(text.split())
    return {"value": text if len(text) <= VALUE_CHARS else text[: VALUE_CHARS - 1] + "…"}


def _remark(account: Any, default: str) -> dict[str, str]:
    return _value(account.template_remark or default)


def _when(moment: datetime) -> str:
    return timezone.localtime(moment).strftime(TIME_FORMAT)


def console_url() -> str:
    return settings.GOFLY["SITE_URL"] + "/console"


# --- to agents -------------------------------------------------------------------------------------------


@dataclass
class AgentAlert:
    """One template message to an agent: which template, its fields, and the message ids it covers."""

    template_id: str
    data: dict[str, dict[str, str]]
    url: str


def agent_alert_build(*, account: Any, messages: list[Message], new: set[int]) -> AgentAlert | None:
    """The template message about `messages` (unread visitor messages, oldest first; `new`: the
    conversations of first-time visitors), in the platform's language; None when the account has no template
    for them. Fields: first (what happened), keyword1 (the latest visitor), keyword2 (their latest message),
    keyword3 (its time), remark (the enterprise's remark line)."""
    newcomers = [m for m in messages if m.conversation_id in new]
    if newcomers and account.template_new_visitor:
        template_id, about = account.template_new_visitor, newcomers
    elif account.template_new_message:
        template_id, about = account.template_new_message, messages
    else:
        return None
    latest = about[-1]
    visitors = len({m.visitor_id for m in about})
    with translation.override(default_language()):
        if about is newcomers:
            first = ngettext(
                "%(n)d new visitor wrote while you were away.",
                "%(n)d new visitors wrote while you were away.",
                visitors,
            ) % {"n": visitors}
            if len(messages) > len(newcomers):  # known visitors wrote too: told here, not in a second template
                first += " " + ngettext(
                    "%(count)d new message in all.", "%(count)d new messages in all.", len(messages)
                ) % {"count": len(messages)}
        else:
            first = ngettext(
                "%(count)d new message while you were away, from %(visitors)s.",
                "%(count)d new messages while you were away, from %(visitors)s.",
                len(about),
            ) % {
                "count": len(about),
                "visitors": ngettext("%(n)d visitor", "%(n)d visitors", visitors) % {"n": visitors},
            }
        data = {
            "first": _value(first),
            "keyword1": _value(latest.visitor.name or latest.visitor.visitor_id),
            "keyword2": _value(preview_text(latest.content)),
            "keyword3": _value(_when(latest.created_at)),
            "remark": _remark(account, _("Open the console to answer.")),
        }
    return AgentAlert(template_id=template_id, data=data, url=console_url())


def _due(now: datetime) -> Q:
    return (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)) & (
        Q(last_alert_at__isnull=True) | Q(last_alert_at__lte=now - digest_window())
    )


def _advance(pk: int, up_to: int, **fields: Any) -> None:
    WechatAgentBinding.objects.filter(pk=pk).update(alerted_up_to=Greatest(F("alerted_up_to"), up_to), **fields)


def _failed_record(binding: WechatAgentBinding, exc: Exception, now: datetime) -> None:
    failures = binding.failures + 1
    if failures == 1:  # once per streak; the row keeps the latest error for the settings page and /admin
        logger.warning("WeChat alert to agent %s failed, will retry: %r", binding.agent_id, exc)
    WechatAgentBinding.objects.filter(pk=binding.pk).update(
        failures=failures, next_attempt_at=now + backoff(failures), last_error=str(exc)[:300]
    )


def _alert_one(binding: WechatAgentBinding, horizon: int, now: datetime) -> bool | None:
    """Claim, send, record for one due binding: True sent, False failed, None nothing to send or not ours."""
    claimed = WechatAgentBinding.objects.filter(Q(pk=binding.pk) & _due(now)).update(next_attempt_at=now + LEASE)
    if not claimed:
        return None
    row = WechatAgentBinding.objects.select_related("account").get(pk=binding.pk)  # the watermark as it is now
    messages = unread_visitor_messages(
        enterprise_id=row.enterprise_id,
        agent_id=row.agent_id,
        after=row.alerted_up_to,
        up_to=horizon,
        limit=DIGEST_MAX_MESSAGES,
    )
    up_to = horizon if len(messages) <= DIGEST_MAX_MESSAGES else messages[DIGEST_MAX_MESSAGES - 1].id
    messages = messages[:DIGEST_MAX_MESSAGES]
    alert = (
        agent_alert_build(account=row.account, messages=messages, new=new_conversations(messages, row.alerted_up_to))
        if messages
        else None
    )
    if alert is None:  # nothing new (read since), or no template for it: considered, nothing to tell
        _advance(row.pk, up_to, next_attempt_at=None)
        return None
    try:
        wechat_client(row.account).message.send_template(row.openid, alert.template_id, alert.data, url=alert.url)
    except WechatError as exc:  # refused, unreachable, not configured: retried after the backoff, nothing lost
        _failed_record(row, exc, now)
        return False
    if row.failures:
        logger.warning("WeChat alerts to agent %s delivered again after %d failures", row.agent_id, row.failures)
    _advance(row.pk, up_to, last_alert_at=now, failures=0, next_attempt_at=None, last_error="")
    return True


def _bindings() -> list[WechatAgentBinding]:
    """The bindings that may get alerts: on, of an active agent of the binding's enterprise, to that
    enterprise's own enabled account with an agents' template."""
    return list(
        WechatAgentBinding.objects.filter(
            alerts_enabled=True,
            agent__is_active=True,
            agent__enterprise_id=F("enterprise_id"),
            account__enterprise_id=F("enterprise_id"),
            account__is_enabled=True,
        )
        .exclude(account__template_new_visitor="", account__template_new_message="")
        .select_related("agent")
        .order_by("enterprise_id", "pk")
    )


def agent_alerts_sweep(*, now: datetime | None = None) -> SweepResult:
    """One pass over the bound agents (any process may run it at any time; each binding is claimed)."""
    result = SweepResult()
    now = now or timezone.now()
    for enterprise_id, group in groupby(_bindings(), key=lambda b: b.enterprise_id):
        try:
            online = get_presence().online_blocking(enterprise_id, AGENT)
        except health.INFRASTRUCTURE_ERRORS as exc:
            # Without presence everyone would look away: tell nobody rather than everybody.
            health.failed(health.REDIS, exc)
            continue
        horizon = newest_message_id(enterprise_id, before=now - SETTLE)
        for binding in group:
            if agent_here(binding.agent, online):
                # Here: what arrives now they see in the console, so no later template repeats it.
                if binding.alerted_up_to < horizon:
                    _advance(binding.pk, horizon)
                result.skipped_online += 1
                continue
            if binding.alerted_up_to >= horizon:
                continue
            outcome = _alert_one(binding, horizon, now)
            if outcome is True:
                result.sent += 1
            elif outcome is False:
                result.failed += 1
    return result


_last = 0.0
_task: asyncio.Task[None] | None = None


def _sweep_in_thread() -> None:
    close_old_connections()
    try:
        agent_alerts_sweep()
    except Exception:
        logger.exception("WeChat alert sweep failed")
    finally:
        connections.close_all()  # this thread's own connections; the next sweep may run in another thread


async def on_heartbeat(_: None) -> None:
    """chat.hooks.periodic_chore: start the agents' alert sweep in a thread of its own every
    ALERT_SWEEP_SECONDS, unless this process's previous one still runs; returns at once."""
    global _last, _task
    now = time.monotonic()
    if now - _last < float(settings.GOFLY["ALERT_SWEEP_SECONDS"]):
        return
    if _task is not None and not _task.done():
        return
    _last = now
    _task = asyncio.get_running_loop().create_task(sync_to_async(_sweep_in_thread, thread_sensitive=False)())


# --- to followers ----------------------------------------------------------------------------------------


def chat_link(message: Message) -> str:
    """The visitor chat page of the message's enterprise (its landing domain when it has one), naming the
    agent who wrote: opened inside WeChat with web authorisation on, it is the follower's own conversation."""
    enterprise = message.enterprise
    origin = enterprise.landing_domain or settings.GOFLY["SITE_URL"]
    query = {"ent_id": str(enterprise.pk)}
    if message.agent is not None:
        query["kefu_id"] = message.agent.username
    return f"{origin}/chatIndex?{urlencode(query)}"


def reply_notice_build(*, account: Any, message: Message) -> dict[str, dict[str, str]]:
    """The reply template's fields, in the platform's language: first (there is a reply), keyword1 (who
    answered: the enterprise), keyword2 (the reply, one line), keyword3 (its time), remark."""
    with translation.override(default_language()):
        return {
            "first": _value(_("You have a new reply. Tap to read it.")),
            "keyword1": _value(message.enterprise.name),
            "keyword2": _value(preview_text(message.content)),
            "keyword3": _value(_when(message.created_at)),
            "remark": _remark(account, _("Write to us to continue the conversation.")),
        }


NOTICE_SENT = "sent"  # the reply template went out
NOTICE_SKIPPED = "skipped"  # not needed, not configured, or refused by WeChat: nothing more to do
NOTICE_RETRY = "retry"  # WeChat busy or unreachable: worth another attempt later
_TRANSIENT = {RATE_LIMITED, -1}  # -1: WeChat's "system busy"


def reply_notice_send(delivery: WechatDelivery, now: datetime) -> str:
    """Tell the follower of `delivery` by the reply template that there is a reply they could not be sent
    (module docstring): NOTICE_SENT, NOTICE_SKIPPED or NOTICE_RETRY. Called in the sender's thread, never on
    the message path; on NOTICE_RETRY the caller keeps the delivery pending, so the notice is not lost."""
    follower = delivery.follower
    account = follower.account
    if not account.template_reply or not account.is_enabled or not follower.subscribed:
        return NOTICE_SKIPPED
    message = delivery.message
    if message.visitor_id in online_now(delivery.enterprise_id, VISITOR):
        return NOTICE_SKIPPED  # reading the visitor page right now: the reply is there
    window = Q(reply_alerted_at__isnull=True) | Q(reply_alerted_at__lte=now - digest_window())
    previous = follower.reply_alerted_at
    if not WechatFollower.objects.filter(Q(pk=follower.pk) & window).update(reply_alerted_at=now):
        return NOTICE_SKIPPED  # told within the window (by this process or another)
    try:
        data = reply_notice_build(account=account, message=message)
        wechat_client(account).message.send_template(
            follower.openid, account.template_reply, data, url=chat_link(message)
        )
    except WechatError as exc:
        logger.info("WeChat reply notice to follower %s failed: %r", follower.pk, exc)
        WechatFollower.objects.filter(pk=follower.pk, reply_alerted_at=now).update(reply_alerted_at=previous)
        transient = isinstance(exc, WechatUnavailableError) or exc.errcode in _TRANSIENT
        return NOTICE_RETRY if transient else NOTICE_SKIPPED
    follower.reply_alerted_at = now
    return NOTICE_SENT
