"""E-mail alerts for away agents: a periodic sweep that mails each opted-in agent, who is away or offline,
one digest of the visitor messages in their conversations and in the queue since the last one that arrived
while they were away and are still unread (read in the console, by them or a colleague, they are no news).

Off the message path: nothing here runs per chat message. A sweep (every ALERT_SWEEP_SECONDS in each
server process, or `manage.py send_alerts`) reads each enterprise's newest message id once, asks presence
once per enterprise, and per due agent claims their `AgentAlerts` row, reads what is new, sends, records.

Delivery is at least once: `alerted_up_to` advances only after the SMTP server accepted the digest, so
a process that dies in between sends that digest once more after its lease expired (same Message-ID, so
mail clients may fold the two). A failed send keeps `alerted_up_to` where it was and is retried with
backoff; the first failure of a streak is logged, the recovery too.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import groupby
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Greatest
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.models import AgentStatus
from chat.models import Conversation, Message
from chat.realtime.presence import AGENT, get_presence
from core import health

from .models import AgentAlerts

logger = logging.getLogger(__name__)

# A message is considered once it is this old, so that a transaction that took a lower id and commits a
# moment after a higher one is not skipped past.
SETTLE = timedelta(seconds=5)
DIGEST_MAX_MESSAGES = 200  # per digest; more wait for the next one
PER_VISITOR = 5  # latest messages shown per visitor
PREVIEW_CHARS = 200
BACKOFF_MAX = timedelta(hours=1)


def mail_configured() -> bool:
    """Alerts are off without an SMTP host (README, configuration)."""
    return bool(settings.EMAIL_HOST)


def digest_window() -> timedelta:
    return timedelta(minutes=float(settings.GOFLY["ALERT_DIGEST_MINUTES"]))


def lease_length() -> timedelta:
    """Long enough for one SMTP exchange to finish or time out."""
    return timedelta(seconds=float(settings.EMAIL_TIMEOUT or 30) * 3 + 30)


def backoff(failures: int) -> timedelta:
    return min(timedelta(minutes=1) * 2 ** max(failures - 1, 0), BACKOFF_MAX)


def _due(now: datetime) -> Q:
    return (
        (Q(lease_until__isnull=True) | Q(lease_until__lte=now))
        & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        & (Q(last_sent_at__isnull=True) | Q(last_sent_at__lte=now - digest_window()))
    )


def newest_message_id(enterprise_id: int, *, before: datetime | None = None) -> int:
    """The enterprise's newest message id (settled before `before`); 0 without any. Reads backwards on the
    (enterprise, id) index, so only the newest few rows."""
    rows = Message.objects.filter(enterprise_id=enterprise_id)
    if before is not None:
        rows = rows.filter(created_at__lte=before)
    return rows.order_by("-id").values_list("id", flat=True).first() or 0


# --- the digest ------------------------------------------------------------------------------------------

_IMG = re.compile(r"^img\[[^\]]*\]$")
_FILE_NAME = re.compile(r'"name"\s*:\s*"((?:[^"\\]|\\.)*)"')
_PRODUCT_TITLE = re.compile(r'"title"\s*:\s*"([^"]*)"')


def preview_text(content: str) -> str:
    """A message as one line, worded as chat-core.js's previewText words it: images and files as labels."""
    text = content or ""
    if _IMG.match(text):
        return "[" + _("Image") + "]"
    if text.startswith("attachment["):
        found = _FILE_NAME.search(text)
        name = ""
        if found:
            try:
                name = json.loads('"' + found.group(1) + '"')
            except ValueError:
                name = ""
        return ("[" + _("File") + "] " + name).strip()
    if text.startswith("product["):
        title = _PRODUCT_TITLE.search(text)
        return ("[" + _("Product") + "] " + (title.group(1) if title else "")).strip()
    line = " ".join(text.split())
    return line if len(line) <= PREVIEW_CHARS else line[: PREVIEW_CHARS - 1] + "…"


@dataclass
class Digest:
    subject: str
    body: str
    message_ids: list[int] = field(default_factory=list)


def digest_build(*, agent: Any, messages: list[Message], new_conversations: set[int], language: str) -> Digest:
    """The mail for `messages` (visitor messages, oldest first), in `language`."""
    with translation.override(language or settings.LANGUAGE_CODE):
        by_visitor: list[tuple[Any, list[Message]]] = []
        order = sorted(messages, key=lambda m: (m.visitor_id, m.id))
        for _visitor_id, group in groupby(order, key=lambda m: m.visitor_id):
            items = list(group)
            by_visitor.append((items[0].visitor, items))
        by_visitor.sort(key=lambda pair: pair[1][-1].id, reverse=True)  # latest activity first
        visitors = len(by_visitor)
        count = len(messages)
        subject = ngettext(
            "GoFly: %(count)d new message from %(visitors)s",
            "GoFly: %(count)d new messages from %(visitors)s",
            count,
        ) % {
            "count": count,
            "visitors": ngettext("%(n)d visitor", "%(n)d visitors", visitors) % {"n": visitors},
        }
        lines = [
            _("Hello %(name)s,") % {"name": agent.display_name},
            "",
            _("While you were away, visitors wrote in your conversations and in the queue:"),
            "",
        ]
        for visitor, items in by_visitor:
            conversation = items[-1].conversation
            where = _("in the queue") if conversation.status == Conversation.Status.WAITING else _("your conversation")
            label = visitor.name or visitor.visitor_id
            if conversation.pk in new_conversations:
                label = _("%(name)s (new visitor)") % {"name": label}
            lines.append(f"{label} · {where}")
            if len(items) > PER_VISITOR:
                skipped = len(items) - PER_VISITOR
                lines.append(
                    "  " + ngettext("… %(n)d earlier message", "… %(n)d earlier messages", skipped) % {"n": skipped}
                )
            for message in items[-PER_VISITOR:]:
                when = timezone.localtime(message.created_at).strftime("%H:%M")
                lines.append(f"  {when}  {preview_text(message.content)}")
            lines.append("")
        lines += [
            _("Open the console to answer: %(url)s") % {"url": settings.GOFLY["SITE_URL"] + "/console"},
            "",
            _("You get this mail because e-mail alerts are on in your console (your status menu)."),
        ]
        return Digest(subject=subject, body="\n".join(lines) + "\n", message_ids=[m.id for m in messages])


def digest_send(*, agent: Any, digest: Digest, up_to: int) -> None:
    """Hand the digest to the SMTP server (Django's mail backend); raises when it was not accepted."""
    domain = urlsplit(settings.GOFLY["SITE_URL"]).hostname or "localhost"
    mail = EmailMessage(
        subject=digest.subject,
        body=digest.body,
        to=[agent.email],
        # The same digest sent twice (see the module's docstring) carries the same id.
        headers={"Message-ID": f"<gofly-alert-{agent.pk}-{up_to}@{domain}>"},
    )
    mail.send(fail_silently=False)


# --- the sweep -------------------------------------------------------------------------------------------


@dataclass
class SweepResult:
    sent: int = 0
    failed: int = 0
    skipped_online: int = 0


def unread_visitor_messages(*, enterprise_id: int, agent_id: int, after: int, up_to: int, limit: int) -> list[Message]:
    """Visitor messages after `after`, up to `up_to`, in the agent's conversations or the queue of their
    enterprise, and still unread; at most `limit` + 1 (so that the caller sees there are more). Only sender
    "visitor": agents' messages, notes and system lines never go out. Also read by wechat.alerts."""
    return list(
        Message.objects.filter(
            enterprise_id=enterprise_id,
            id__gt=after,
            id__lte=up_to,
            sender=Message.Sender.VISITOR,
            read_at__isnull=True,
        )
        .filter(Q(conversation__assignee_id=agent_id) | Q(conversation__status=Conversation.Status.WAITING))
        .exclude(conversation__status=Conversation.Status.CLOSED)
        .select_related("visitor", "conversation")
        .order_by("id")[: limit + 1]
    )


def _pending(row: AgentAlerts, up_to: int) -> list[Message]:
    """What is news for the agent of `row` (unread_visitor_messages after `row.alerted_up_to`).

    `alerted_up_to` follows the agent while they are here (each sweep that finds them online moves it on), so
    what is after it arrived after they were last seen; but a sweep comes only every ALERT_SWEEP_SECONDS, and
    what the agent (or a colleague) read in the console before leaving, or after, is no news to mail: the
    team's read state (`read_at`, set by messages_mark_read) decides."""
    return unread_visitor_messages(
        enterprise_id=row.enterprise_id,
        agent_id=row.agent_id,
        after=row.alerted_up_to,
        up_to=up_to,
        limit=DIGEST_MAX_MESSAGES,
    )


def new_conversations(messages: list[Message], before: int) -> set[int]:
    """The conversations of `messages` whose visitor had written nothing up to message `before`: new visitors."""
    ids = {m.conversation_id for m in messages}
    earlier = set(
        Message.objects.filter(conversation_id__in=ids, id__lte=before, sender=Message.Sender.VISITOR)
        .values_list("conversation_id", flat=True)
        .distinct()
    )
    return ids - earlier


def agent_here(agent: Any, online: set[int]) -> bool:
    """Whether an agent sees what arrives in the console: connected (`online`, from presence) and with their
    status "online". Anyone else is away, and alerts may tell them. Also read by wechat.alerts."""
    return bool(agent.status == AgentStatus.ONLINE and agent.pk in online)


def _advance(pk: int, up_to: int, **fields: Any) -> None:
    AgentAlerts.objects.filter(pk=pk).update(alerted_up_to=Greatest(F("alerted_up_to"), up_to), **fields)


def _sent_record(row: AgentAlerts, up_to: int, now: datetime) -> None:
    if row.failures:
        logger.warning("e-mail alerts to agent %s delivered again after %d failures", row.agent_id, row.failures)
    _advance(row.pk, up_to, last_sent_at=now, lease_until=None, failures=0, next_attempt_at=None, last_error="")


def _failed_record(row: AgentAlerts, exc: Exception, now: datetime) -> None:
    failures = row.failures + 1
    if failures == 1:  # once per streak; the row keeps the latest error for /admin
        logger.warning("e-mail alert to agent %s failed, will retry: %r", row.agent_id, exc)
    AgentAlerts.objects.filter(pk=row.pk).update(
        lease_until=None, failures=failures, next_attempt_at=now + backoff(failures), last_error=repr(exc)[:300]
    )


def _alert_one(row: AgentAlerts, horizon: int, now: datetime) -> bool | None:
    """Claim, send, record for one due agent: True sent, False failed, None nothing to send or not ours."""
    with transaction.atomic():
        # SKIP LOCKED: another process on it already; the conditional UPDATE is the claim on every database.
        locked = AgentAlerts.objects.select_for_update(skip_locked=True).filter(Q(pk=row.pk) & _due(now)).first()
        if locked is None:
            return None
        messages = _pending(locked, horizon)
        if not messages:
            _advance(locked.pk, horizon)
            return None
        up_to = horizon if len(messages) <= DIGEST_MAX_MESSAGES else messages[DIGEST_MAX_MESSAGES - 1].id
        messages = messages[:DIGEST_MAX_MESSAGES]
        claimed = AgentAlerts.objects.filter(Q(pk=row.pk) & _due(now)).update(lease_until=now + lease_length())
        if not claimed:
            return None
        new = new_conversations(messages, locked.alerted_up_to)
    digest = digest_build(agent=row.agent, messages=messages, new_conversations=new, language=locked.language)
    try:
        digest_send(agent=row.agent, digest=digest, up_to=up_to)
    except Exception as exc:  # SMTP refused, timed out, TLS failed, DNS...: retried later, nothing lost
        _failed_record(locked, exc, now)
        return False
    _sent_record(locked, up_to, now)
    return True


def alerts_sweep(*, now: datetime | None = None) -> SweepResult:
    """One pass over the opted-in agents (any process may run it at any time)."""
    result = SweepResult()
    if not mail_configured():
        return result
    now = now or timezone.now()
    rows = list(
        AgentAlerts.objects.filter(email_enabled=True, agent__is_active=True)
        .exclude(agent__email="")
        .select_related("agent")
        .order_by("enterprise_id", "pk")
    )
    for enterprise_id, group in groupby(rows, key=lambda r: r.enterprise_id):
        try:
            online = get_presence().online_blocking(enterprise_id, AGENT)
        except health.INFRASTRUCTURE_ERRORS as exc:
            # Without presence everyone would look away: mail nobody rather than everybody.
            health.failed(health.REDIS, exc)
            continue
        horizon = newest_message_id(enterprise_id, before=now - SETTLE)
        for row in group:
            if agent_here(row.agent, online):
                # Here: what arrives now they see in the console, so no later digest repeats it.
                if row.alerted_up_to < horizon:
                    _advance(row.pk, horizon)
                result.skipped_online += 1
                continue
            if row.alerted_up_to >= horizon:
                continue
            outcome = _alert_one(row, horizon, now)
            if outcome is True:
                result.sent += 1
            elif outcome is False:
                result.failed += 1
    return result
