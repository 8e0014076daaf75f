"""Everything GoFly sends to a WeChat follower: a delivery row written with each message, sent after commit by a
small per-process sender, retried by a periodic sweep, and its outcome shown to agents.

How a message goes out
----------------------
1. ``deliveries_store`` (chat.hooks.messages_stored) runs inside the batch's transaction and bulk-creates a
   pending ``WechatDelivery`` for every new message the visitor may see that GoFly sends (an agent's text,
   image or file, a canned or keyword auto-reply, the follow greeting) to a visitor whose ``channel`` is
   "wechat". Never an internal note, never the visitor's own message, never a timeline line; not to a follower
   who came through the chat page (web OAuth) and is outside the 48-hour window (``_reads_on_the_web``). It decides from
   ``message.visitor.channel`` in memory: a batch without a WeChat visitor costs no query; one with some costs
   one query (their followers) and one INSERT. As the row commits with its message, a crash right after the
   commit loses nothing: the sweep finds it.
2. ``deliveries_submit`` (chat.hooks.messages_committed) hands the batch's messages to the sender, a bounded
   ThreadPoolExecutor of this process: never the event loop, and the request or socket that stored the
   message never waits for WeChat.
3. ``delivery_attempt`` claims the delivery with one UPDATE (pending, due, then leased for LEASE by moving
   ``next_attempt_at`` and counting the attempt): of two processes, or of the sender and the sweep, only the
   winner sends. Then: an account that does not allow active messages, a follower who unfollowed, or a
   follower outside WeChat's 48-hour window (``last_inbound_at`` older than 48 h, or none) → failed, WeChat not
   called; text → ``message.send_text`` (rich text reduced to plain text, a product card and a file as text
   with a link); image → ``media.upload`` then ``message.send_image``. WeChat's answer: ok → sent; a
   refusal that will not change (45015 outside the window, 48001, 40003, 43004, ...) → failed with errcode
   and a reason in words; busy (45009, -1) or unreachable (WechatUnavailableError) → pending again, retried
   after 30 s doubling up to 30 min, failed after MAX_ATTEMPTS attempts. An invalid token is refreshed once
   and the call made again by wechat.client.
4. ``on_heartbeat`` (chat.hooks.periodic_chore) sweeps the due pending deliveries every SWEEP_SECONDS, in the
   sender's threads, claimed the same way: what a killed process left (claimed and never finished: its
   lease runs out) or never started is made good by any other process.
5. Each status change (sent, failed, pending with a retry ahead) is published after its commit to the
   enterprise's agents as ``message.delivery`` (wechat.frames); a failure or a retry is also written into
   the message's own ``meta["delivery"]`` so that history shows it without a query per message.
6. A reply that fails only because WeChat's 48-hour window is closed (GoFly's check, or WeChat's 45015) may
   still reach the follower as a notice: ``wechat.alerts.reply_notice_send`` sends the account's reply
   template (at most once per follower per alert window); the failure's reason then says so and its frame
   and meta carry ``"notice": "template"``. A busy or unreachable WeChat keeps the delivery pending, retried
   as above, so that the notice is not lost.

At least once, not exactly once
-------------------------------
WeChat's customer-service API has no idempotency key. A process killed after WeChat accepted a message and
before the delivery was recorded as sent leaves it pending with a lease; when the lease runs out the sweep
sends it again, and the follower gets it twice. A long text sent in several parts that fails part-way is
likewise sent again from its first part. Losing a message is worse than a rare duplicate.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import close_old_connections, transaction
from django.db.models import F, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from chat.frames import event as layer_event
from chat.frames import group_agents
from chat.models import Attachment, Message, visitor_may_see
from chat.realtime.broadcast import bind_event_loop, events_publish_on_commit
from core.savepoints import nested_savepoint
from enterprises.languages import default_language
from replies.sanitise import plain

from .alerts import NOTICE_RETRY, NOTICE_SENT, reply_notice_send
from .client import (
    OUTSIDE_WINDOW,
    RATE_LIMITED,
    WechatError,
    WechatNotConfiguredError,
    WechatUnavailableError,
    wechat_client,
)
from .frames import CHANNEL, META_KEY, NOTICE_TEMPLATE, delivery_state, message_delivery_event
from .models import WechatDelivery, WechatFollower

logger = logging.getLogger(__name__)

Status = WechatDelivery.Status

WINDOW = timedelta(hours=48)  # WeChat's customer-service window after the follower's last message
LEASE = timedelta(seconds=60)  # a claimed delivery is another process's again after this (its sender died)
BACKOFF_FIRST = timedelta(seconds=30)
BACKOFF_MAX = timedelta(minutes=30)
MAX_ATTEMPTS = 8
SWEEP_SECONDS = 30.0
SWEEP_BATCH = 200
SENDER_THREADS = 4
TEXT_MAX_BYTES = 2000  # WeChat takes at most 2048 bytes of text per message: longer ones go in parts

SYSTEM_BUSY = -1
RETRIED = {RATE_LIMITED, SYSTEM_BUSY}
_OUTGOING_KINDS = {Message.Kind.TEXT, Message.Kind.IMAGE, Message.Kind.FILE}
_TAG = re.compile(r"<[a-zA-Z/][^>]*>")
_CARD = re.compile(r"^(product|attachment)\[(\{.*\})\]$", re.S)
_IMAGE = re.compile(r"img\[([^\]]+)\]")


def _reasons() -> dict[int, str]:
    """WeChat's refusals that no retry changes, in words for the agent."""
    return {
        OUTSIDE_WINDOW: _(
            "WeChat refused: the follower has not written in the last 48 hours, or has unfollowed the account."
        ),
        48001: _("WeChat refused: the official account lacks the permission to send customer-service messages."),
        40003: _("WeChat refused: this follower is unknown to the official account."),
        43004: _("WeChat refused: the follower has unfollowed the official account."),
        43019: _("WeChat refused: the follower has blocked the official account."),
        45047: _("WeChat refused: too many messages since the follower's last message."),
        45002: _("WeChat refused: the message is too long."),
        40007: _("WeChat refused the image."),
        40008: _("WeChat refused: this kind of message cannot be sent."),
    }


def _goes_out(message: Message) -> bool:
    """A message GoFly sends to a WeChat visitor: no note, no visitor message, no timeline line. In memory."""
    return (
        message.visitor.channel == CHANNEL
        and message.sender == Message.Sender.AGENT
        and visitor_may_see(message.sender)
        and message.kind in _OUTGOING_KINDS
    )


# --- 1. written with the message ------------------------------------------------------------------------


def deliveries_store(messages: list[Message]) -> list[Message]:
    """chat.hooks.messages_stored: a pending delivery for each new message to a WeChat follower, in the
    batch's transaction. No query without a WeChat visitor in the batch; else one SELECT and one INSERT."""
    outgoing = [message for message in messages if _goes_out(message)]
    if not outgoing:
        return []
    followers = {
        follower.visitor_id: follower
        for follower in WechatFollower.objects.filter(visitor_id__in={message.visitor_id for message in outgoing})
    }
    now = timezone.now()
    rows = [
        WechatDelivery(enterprise_id=message.enterprise_id, message=message, follower=followers[message.visitor_id])
        for message in outgoing
        if message.visitor_id in followers and not _reads_on_the_web(followers[message.visitor_id], now)
    ]
    if rows:
        with nested_savepoint():  # a refusal must not spoil the batch's transaction
            WechatDelivery.objects.bulk_create(rows, ignore_conflicts=True)
    return []


def _reads_on_the_web(follower: WechatFollower, now: datetime) -> bool:
    """A follower who opened the chat page (web OAuth) and has not written through WeChat within its 48-hour
    window: they read replies on that page (the socket, as any web visitor), and WeChat would refuse each one,
    so no delivery is written (none failing under every reply). One who writes through WeChat again reopens the
    window, and replies go both ways again. In memory: the follower row is loaded already."""
    if follower.oauth_at is None:
        return False
    return follower.last_inbound_at is None or follower.last_inbound_at < now - WINDOW


# --- 2. the sender ---------------------------------------------------------------------------------------

_executor: ThreadPoolExecutor | None = None
_futures: set[Future[None]] = set()
_lock = threading.Lock()


def _submit(task: Any, *args: Any, context: contextvars.Context | None = None) -> None:
    """Run `task` in the sender's threads, in a copy of the caller's context: a consumer's event loop (bound
    by chat.realtime.broadcast) is where the thread's publishes go, as a service called by it would."""
    global _executor
    context = context or contextvars.copy_context()
    with _lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=SENDER_THREADS, thread_name_prefix="wechat-send")
        future = _executor.submit(context.run, _in_thread, task, *args)
        _futures.add(future)
    future.add_done_callback(_forget)


def _forget(future: Future[None]) -> None:
    with _lock:
        _futures.discard(future)


def _in_thread(task: Any, *args: Any) -> None:
    close_old_connections()
    try:
        task(*args)
    except Exception:
        logger.exception("WeChat sender: %s failed", getattr(task, "__name__", task))
    finally:
        from django.db import connections

        connections.close_all()  # this thread's own: the next task may run in another thread


def sender_idle(timeout: float = 10.0) -> bool:
    """Wait until this process's sender has nothing left to do (tests, shutdown); whether it is idle."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with _lock:
            running = set(_futures)
        if not running:
            return True
        wait(running, timeout=max(0.0, deadline - time.monotonic()))
    with _lock:
        return not _futures


def deliveries_submit(messages: list[Message]) -> None:
    """chat.hooks.messages_committed: hand the batch's messages to a WeChat follower to the sender. No query."""
    message_ids = [message.pk for message in messages if _goes_out(message)]
    if message_ids:
        _submit(_send_for_messages, message_ids)


def _send_for_messages(message_ids: list[int]) -> None:
    due = WechatDelivery.objects.filter(message_id__in=message_ids, status=Status.PENDING)
    for pk in due.values_list("pk", flat=True):
        delivery_attempt(pk)


def deliveries_due(limit: int = SWEEP_BATCH) -> list[int]:
    """The pending deliveries whose time has come (new ones, retries, leases run out), oldest first."""
    now = timezone.now()
    rows = WechatDelivery.objects.filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now), status=Status.PENDING
    )
    return list(rows.order_by("pk").values_list("pk", flat=True)[:limit])


def deliveries_sweep() -> int:
    """Attempt every due pending delivery (each claimed: never sent twice by two sweeps); how many were sent."""
    return sum(1 for pk in deliveries_due() if delivery_attempt(pk) == Status.SENT)


_last_sweep = 0.0


async def on_heartbeat(_: None) -> None:
    """chat.hooks.periodic_chore: start a sweep in the sender's threads every SWEEP_SECONDS; returns at once."""
    global _last_sweep
    now = time.monotonic()
    if now - _last_sweep < SWEEP_SECONDS:
        return
    _last_sweep = now
    context = contextvars.copy_context()
    context.run(bind_event_loop)  # the sweep publishes on this process's loop, not on one of its own
    _submit(deliveries_sweep, context=context)


# --- 3. one attempt --------------------------------------------------------------------------------------


def _claim(pk: int, now: datetime) -> bool:
    """Take the delivery for this attempt if it is pending and due: one UPDATE, so only one process wins."""
    due = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    claimed = WechatDelivery.objects.filter(due, pk=pk, status=Status.PENDING).update(
        next_attempt_at=now + LEASE, attempts=F("attempts") + 1
    )
    return claimed == 1


def delivery_attempt(pk: int) -> str | None:
    """Claim and send one delivery; its new status, or None when another process holds it (or it is done).
    The reason it writes is read later by every agent: in the platform's default language, not in whatever
    the caller happened to speak."""
    with translation.override(default_language()):
        return _delivery_attempt(pk)


def _delivery_attempt(pk: int) -> str | None:
    now = timezone.now()
    if not _claim(pk, now):
        return None
    delivery = WechatDelivery.objects.select_related("follower__account", "message__visitor").filter(pk=pk).first()
    if delivery is None:
        return None
    refusal = _refused_before_sending(delivery, now)
    if refusal is not None:
        if _window_closed(delivery, now):
            return _finish_with_notice(delivery, None, refusal, now)
        return _finish(delivery, Status.FAILED, None, refusal)
    try:
        _send(delivery)
    except WechatNotConfiguredError:
        return _finish(delivery, Status.FAILED, None, _("The official account is not configured to send messages."))
    except WechatUnavailableError as exc:
        return _retry(delivery, None, _("WeChat could not be reached (%(error)s).") % {"error": exc.errmsg})
    except WechatError as exc:
        if exc.errcode in RETRIED:
            return _retry(delivery, exc.errcode, _("WeChat is busy; the message will be sent again shortly."))
        reason = _reasons().get(exc.errcode or 0) or _("WeChat refused the message: %(error)s") % {"error": exc.errmsg}
        if exc.errcode == OUTSIDE_WINDOW:
            return _finish_with_notice(delivery, exc.errcode, reason, now)
        return _finish(delivery, Status.FAILED, exc.errcode, reason[:300])
    except (OSError, ValueError) as exc:  # the attachment's file is gone or unreadable
        logger.warning("WeChat delivery %s: attachment unreadable: %r", pk, exc)
        return _finish(delivery, Status.FAILED, None, _("The attached file could not be read."))
    return _finish(delivery, Status.SENT, None, "")


def _outside_window(follower: WechatFollower, now: datetime) -> bool:
    return follower.last_inbound_at is None or follower.last_inbound_at < now - WINDOW


def _refused_before_sending(delivery: WechatDelivery, now: datetime) -> str | None:
    """Why WeChat would refuse it anyway (so it is not asked), or None."""
    follower = delivery.follower
    account = follower.account
    if not account.is_enabled or not account.active_messages_allowed:
        return _("The official account does not allow customer-service messages.")
    if not follower.subscribed:
        return _("The follower has unfollowed the official account.")
    if _outside_window(follower, now):
        return _("Outside WeChat's 48-hour window: the follower has not written in the last 48 hours.")
    return None


def _window_closed(delivery: WechatDelivery, now: datetime) -> bool:
    """Whether the refusal before sending is the 48-hour window's alone (the account allows active messages,
    the follower follows): then a template message may still tell the follower."""
    follower = delivery.follower
    account = follower.account
    return (
        account.is_enabled
        and account.active_messages_allowed
        and follower.subscribed
        and _outside_window(follower, now)
    )


def _finish_with_notice(delivery: WechatDelivery, errcode: int | None, reason: str, now: datetime) -> str | None:
    """The reply is not delivered because WeChat's window is closed: failed, and, when wechat.alerts sends the
    follower the reply template (at most one per follower per window), the agent reads so on the message;
    pending again when that template met a busy or unreachable WeChat."""
    outcome = reply_notice_send(delivery, now)
    if outcome == NOTICE_SENT:
        told = _("A template message told the follower there is a reply.")
        return _finish(delivery, Status.FAILED, errcode, f"{reason} {told}"[:300], notice=NOTICE_TEMPLATE)
    if outcome == NOTICE_RETRY:  # WeChat busy or unreachable: the next attempt tries the notice again
        later = _("A template message will tell the follower there is a reply once WeChat answers.")
        return _retry(delivery, errcode, f"{reason} {later}"[:300])
    return _finish(delivery, Status.FAILED, errcode, reason[:300])


def _send(delivery: WechatDelivery) -> None:
    message = delivery.message
    openid = delivery.follower.openid
    client = wechat_client(delivery.follower.account)
    attachment = (message.meta or {}).get("attachment") if isinstance(message.meta, dict) else None
    if message.kind == Message.Kind.IMAGE and isinstance(attachment, dict):
        row = Attachment.objects.filter(key=attachment.get("key"), visitor_id=message.visitor_id).first()
        if row is None:
            raise ValueError("attachment missing")
        with row.file.open("rb") as handle:
            uploaded = client.media.upload("image", (row.name or "image.jpg", handle, row.content_type))
        client.message.send_image(openid, uploaded["media_id"])
        return
    for part in _parts(message_text(message)):
        client.message.send_text(openid, part)


def _absolute(url: str) -> str:
    return url if re.match(r"https?://", url) else settings.GOFLY["SITE_URL"] + "/" + url.lstrip("/")


def message_text(message: Message) -> str:
    """What a follower reads of a message: plain text; a product card, a file or an image link as text."""
    attachment = message.meta.get("attachment") if isinstance(message.meta, dict) else None
    if message.kind in (Message.Kind.FILE, Message.Kind.IMAGE) and isinstance(attachment, dict):
        return f"{attachment.get('name') or _('File')}\n{_absolute(str(attachment.get('url') or ''))}"
    content = message.content.strip()
    card = _CARD.match(content)
    if card:
        try:
            details = json.loads(card.group(2))
        except ValueError:
            details = None
        if isinstance(details, dict):
            link = details.get("url") or details.get("path")
            lines = [str(line) for line in (details.get("title") or details.get("name"), details.get("price")) if line]
            return "\n".join([*lines, _absolute(str(link))] if link else lines) or "…"
    if _TAG.search(content):
        content = plain(content)
    return _IMAGE.sub(lambda hit: _absolute(hit.group(1)), content) or "…"


def _parts(text: str) -> list[str]:
    """`text` cut into pieces of at most TEXT_MAX_BYTES of UTF-8, never inside a character."""
    parts: list[str] = []
    while len(text.encode("utf-8")) > TEXT_MAX_BYTES:
        cut = len(text.encode("utf-8")[:TEXT_MAX_BYTES].decode("utf-8", "ignore"))
        parts.append(text[:cut])
        text = text[cut:]
    return [*parts, text] if text else parts


# --- outcomes --------------------------------------------------------------------------------------------


def _retry(delivery: WechatDelivery, errcode: int | None, reason: str) -> str | None:
    if delivery.attempts >= MAX_ATTEMPTS:
        return _finish(
            delivery,
            Status.FAILED,
            errcode,
            _("WeChat did not accept the message after %(n)d attempts: %(reason)s")
            % {"n": delivery.attempts, "reason": reason},
        )
    delay = min(BACKOFF_FIRST * (2 ** (delivery.attempts - 1)), BACKOFF_MAX)
    return _finish(delivery, Status.PENDING, errcode, reason, next_attempt_at=timezone.now() + delay)


def _finish(
    delivery: WechatDelivery,
    status: str,
    errcode: int | None,
    reason: str,
    *,
    next_attempt_at: datetime | None = None,
    notice: str | None = None,
) -> str | None:
    """Record this attempt's outcome (only while the claim is still ours: same attempt count), keep it in the
    message's meta when it is not a plain first-time success, and tell the agents after the commit. `notice`:
    what told the follower of the message instead (NOTICE_TEMPLATE), shown with it."""
    claimed_attempts = delivery.attempts  # loaded after the claim counted this attempt
    now = timezone.now()
    delivery.status, delivery.errcode, delivery.reason = status, errcode, reason[:300]
    delivery.next_attempt_at = next_attempt_at
    delivery.sent_at = now if status == Status.SENT else None
    message = delivery.message
    meta = message.meta if isinstance(message.meta, dict) else {}
    with transaction.atomic():
        updated = WechatDelivery.objects.filter(
            pk=delivery.pk, attempts=claimed_attempts, status=Status.PENDING
        ).update(
            status=status,
            errcode=errcode,
            reason=delivery.reason,
            next_attempt_at=next_attempt_at,
            sent_at=delivery.sent_at,
        )
        if not updated:  # the lease ran out and another process took it over: its outcome is the one kept
            return None
        if status != Status.SENT or META_KEY in meta:
            message.meta = {**meta, META_KEY: delivery_state(delivery, notice=notice)}
            Message.objects.filter(pk=message.pk).update(meta=message.meta)
        events_publish_on_commit(
            [(group_agents(delivery.enterprise_id), layer_event(message_delivery_event(delivery, notice=notice)))]
        )
    if status == Status.FAILED:
        logger.info("WeChat delivery %s failed: %s %s", delivery.pk, errcode, delivery.reason)
    return status
