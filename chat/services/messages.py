"""Messages: the batch path every message takes (check, rate, place in a conversation, insert, audience,
hooks, publish), a left message, and read marks."""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from core import health
from core.errors import ChatError, not_found
from core.ratelimit import rate_limited_error, rate_limits_allow
from core.savepoints import nested_savepoint

from .. import frames, hooks
from ..models import Attachment, Conversation, Message, Visitor, visitor_may_see
from ..realtime.broadcast import publish_on_commit
from ..uploads import attachment_message_parts, attachments_for_messages
from .routing import conversations_open
from .timeline import conversation_of, conversation_remember
from .transfer import conversations_claim_by_reply
from .visitors import EXTRA_CONTACT

logger = logging.getLogger(__name__)

_LAST_MESSAGE_PRECISION = timedelta(seconds=10)


def _clean_content(content: Any) -> str:
    if not isinstance(content, str):
        raise ChatError("bad_content", _("Message content must be text."))
    content = content.strip()
    if not content:
        raise ChatError("empty", _("Message is empty."))
    limit = settings.GOFLY["MESSAGE_MAX_LENGTH"]
    if len(content) > limit:
        raise ChatError("too_large", _("Message is longer than %(limit)d characters.") % {"limit": limit}, 413)
    return content


def _clean_client_id(client_id: Any) -> str:
    if not isinstance(client_id, str) or not (1 <= len(client_id) <= 64) or not client_id.isprintable():
        raise ChatError("bad_client_id", _("client_id must be 1 to 64 printable characters."))
    return client_id


@dataclass
class NewMessage:
    """One message to store: what a client sent, not yet checked.

    An agent's message may name its visitor by public id instead (`visitor` None, `visitor_id` set): the
    batch then looks up all such visitors in one query, within the agent's enterprise.
    """

    visitor: Visitor | None
    sender: str
    content: Any
    client_id: Any
    agent: User | None = None
    visitor_id: Any = None
    meta: dict[str, Any] | None = None
    # The key of an upload to send (chat.uploads) instead of text; the batch looks them up in one query.
    attachment: Any = None
    attachment_row: Attachment | None = None
    # An automatic message of the enterprise (sender agent, no agent): only message_automatic_create sets it.
    automatic: bool = False


def _attachments_resolve(batch: list[NewMessage]) -> None:
    """Fill in the upload each message names: one query for the batch, none for a batch of text."""
    keys = [new.attachment for new in batch if new.attachment is not None]
    if keys:
        found = attachments_for_messages(keys)
        for new in batch:
            if new.attachment is not None:
                new.attachment_row = found.get(new.attachment) if isinstance(new.attachment, str) else None


def _visitors_resolve(batch: list[NewMessage]) -> None:
    """Fill in the visitor of each agent message that names it by public id; one query per enterprise."""
    wanted: dict[int, set[str]] = {}
    for new in batch:
        if new.visitor is None and new.agent is not None and new.agent.enterprise_id is not None:
            if isinstance(new.visitor_id, str):
                wanted.setdefault(new.agent.enterprise_id, set()).add(new.visitor_id)
    found: dict[tuple[int | None, str], Visitor] = {}
    enterprises = {
        new.agent.enterprise_id: new.agent.enterprise
        for new in batch
        if new.agent is not None and new.agent.enterprise_id in wanted and new.agent.enterprise is not None
    }
    for enterprise_id, visitor_ids in wanted.items():
        # With their open conversation, which the message path reads; their enterprise is the agent's.
        rows = Visitor.objects.filter(enterprise_id=enterprise_id, visitor_id__in=visitor_ids)
        for visitor in rows.select_related("open_conversation"):
            visitor.enterprise = enterprises[enterprise_id]
            found[(enterprise_id, visitor.visitor_id)] = visitor
    for new in batch:
        if new.visitor is None and new.agent is not None and isinstance(new.visitor_id, str):
            new.visitor = found.get((new.agent.enterprise_id, new.visitor_id))


def _message_checked(new: NewMessage) -> tuple[Message, tuple[str, int, int]]:
    """The unsaved Message for `new` and its rate-limit hit, or ChatError for what is wrong with it."""
    visitor = new.visitor
    if visitor is None:
        raise not_found(_("Visitor"))
    client_id = _clean_client_id(new.client_id)
    kind: str = Message.Kind.TEXT
    meta = new.meta
    if new.sender == Message.Sender.NOTE and new.attachment is not None:
        raise ChatError("bad_note", _("An internal note is text only."))
    if new.attachment is not None:
        kind, content, attached = attachment_message_parts(new.attachment_row, visitor=visitor, sender=new.sender)
        meta = {**new.meta, **attached} if new.meta else attached  # a channel's facts kept beside the file's
    else:
        content = _clean_content(new.content)
    if new.automatic and new.sender == Message.Sender.AGENT and new.agent is None:
        agent = None
        hit = (f"msg:auto:{visitor.pk}", *settings.GOFLY["RATE_VISITOR_MESSAGES"])
    elif new.sender in (Message.Sender.AGENT, Message.Sender.NOTE):
        agent = new.agent
        if agent is None or agent.enterprise_id != visitor.enterprise_id:
            raise not_found(_("Visitor"))
        hit = (f"msg:a:{agent.pk}", *settings.GOFLY["RATE_AGENT_MESSAGES"])
    else:
        agent = None
        hit = (f"msg:v:{visitor.pk}", *settings.GOFLY["RATE_VISITOR_MESSAGES"])
    message = Message(
        enterprise_id=visitor.enterprise_id,
        visitor=visitor,
        agent=agent,
        sender=new.sender,
        kind=kind,
        content=content,
        client_id=client_id,
        meta=meta,
    )
    return message, hit


def _conversations_attach(messages: list[Message], events: list[tuple[str, dict[str, Any]]]) -> None:
    """Put each message in its visitor's live conversation, opening one where there is none: routed for a
    visitor who writes, assigned to the agent who writes. No query while the conversations are known.
    What the openings announce is added to `events`, published with the messages."""
    # Two sockets of one visitor hold two copies of it: every copy learns the conversation opened.
    copies: dict[int, list[Visitor]] = {}
    routed: dict[int, Visitor] = {}
    by_agent: dict[int, tuple[User, dict[int, Visitor]]] = {}
    for message in messages:
        visitor = message.visitor
        if conversation_of(visitor) is not None:
            continue
        copies.setdefault(visitor.pk, []).append(visitor)
        if visitor.pk in routed or any(visitor.pk in wanted for _agent, wanted in by_agent.values()):
            continue
        if message.sender == Message.Sender.AGENT and message.agent is not None:
            by_agent.setdefault(message.agent.pk, (message.agent, {}))[1][visitor.pk] = visitor
        else:
            routed[visitor.pk] = visitor
    opened: dict[int, Conversation] = {}
    if routed:
        opened.update(conversations_open(visitors=list(routed.values()), events=events))
    for agent, wanted in by_agent.values():
        opened.update(conversations_open(visitors=list(wanted.values()), agent=agent, events=events))
    for visitor_pk, visitors in copies.items():
        for visitor in visitors:
            conversation_remember(visitor, opened[visitor_pk])
    claims: dict[int, tuple[Conversation, User]] = {}
    for message in messages:
        conversation = opened.get(message.visitor.pk) or conversation_of(message.visitor)
        assert conversation is not None  # opened above
        message.conversation = conversation
        if message.agent is not None and conversation.status == Conversation.Status.WAITING:
            conversation.visitor = message.visitor  # the events name it; no query for it
            claims.setdefault(conversation.pk, (conversation, message.agent))
    if claims:  # before the answers are stored, so that the timeline says who took it, then what they wrote
        conversations_claim_by_reply(claims=list(claims.values()))


def _notes_place(notes: list[Message]) -> list[Message]:
    """Put each internal note in its visitor's live conversation, or else their latest one: a note opens,
    claims and reopens nothing. One query for the notes of visitors with no live conversation, none for
    the others. The notes that have no conversation to go in (a visitor who never wrote) are returned."""
    homeless = {note.visitor.pk for note in notes if conversation_of(note.visitor) is None}
    latest: dict[int, Conversation] = {}
    if homeless:
        newest = Conversation.objects.filter(visitor_id=OuterRef("visitor_id")).order_by("-pk").values("pk")[:1]
        for row in Conversation.objects.filter(visitor_id__in=homeless, pk=Subquery(newest)):
            latest[row.visitor_id] = row
    refused: list[Message] = []
    for note in notes:
        home = conversation_of(note.visitor) or latest.get(note.visitor.pk)
        if home is None:
            refused.append(note)
        else:
            note.conversation = home
    return refused


def _unstorable() -> ChatError:
    return ChatError("unstorable", _("The server cannot store this message; it will not be accepted."))


def _message_insert_one(message: Message) -> tuple[Message, bool] | Exception:
    """INSERT one message; for a client_id already stored, (the stored message, False).

    A message the database refuses gets a ChatError of its own; an error of the database itself (the
    connection is gone) is returned as it is, and its caller hears `server_error` and resends.
    """
    try:
        with nested_savepoint():
            message.save(force_insert=True)
    except IntegrityError:
        existing = (
            Message.objects.select_related("agent")
            .filter(visitor=message.visitor, sender=message.sender, client_id=message.client_id)
            .first()
        )
        if existing is None:
            return _unstorable()
        # The caller reads its visitor, maybe on the event loop, where a lazy load is an error.
        existing.visitor = message.visitor
        return existing, False
    except (DatabaseError, ValueError) as exc:  # ValueError: text the driver cannot encode
        if health.outage_of(exc) is not None:
            health.failed(health.DATABASE, exc)  # one line per outage, not a traceback per message
            return exc
        logger.warning("message refused by the database: %r", exc)
        return _unstorable()
    return message, True


def _messages_insert(messages: list[Message]) -> list[tuple[Message, bool] | Exception]:
    """INSERT all of them in one statement where the database returns the new ids; one by one where it
    cannot, or where the one statement fails (it then stores nothing): a resent client_id, or one message
    the database refuses, must not cost its neighbours, who may be other visitors of other enterprises."""
    if len(messages) > 1 and transaction.get_connection().features.can_return_rows_from_bulk_insert:
        try:
            with nested_savepoint():
                Message.objects.bulk_create(messages)
        except (DatabaseError, ValueError):
            for message in messages:
                message.pk = None
                message._state.adding = True
        else:
            return [(message, True) for message in messages]
    return [_message_insert_one(message) for message in messages]


def _audience_groups(message: Message, frame: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """`frame` for each group of the message's audience (models.message_audience)."""
    groups = [(frames.group_agents(message.enterprise_id), frame)]
    if visitor_may_see(message.sender):
        groups.append((frames.group_visitor(message.visitor_id), frame))
    return groups


def messages_create(batch: list[NewMessage]) -> list[tuple[Message, bool] | Exception]:
    """Store each message once per (visitor, sender, client_id) and publish the new ones, all at once.

    The answer, in the batch's order, is (message, created), the ChatError that refused it, or the
    database's exception where the database failed for it (see _message_insert_one). A resend of a
    stored client_id gives the stored message and announces nothing new: it is offered again only to
    the sockets that never got it (frames.redelivery_event). One Redis round trip counts every rate
    limit and one INSERT stores every message, so a busy process pays per batch what a quiet one pays
    per message.
    """
    _visitors_resolve(batch)
    if any(new.visitor is not None and new.visitor.channel != Conversation.Channel.WEB for new in batch):
        # A channel's visitor (WeChat): what its app writes in messages_stored (a delivery row) commits with
        # the messages, so a crash between the two loses no reply. Web batches keep their plain statements.
        with transaction.atomic():
            return _messages_store(batch)
    return _messages_store(batch)


def _messages_store(batch: list[NewMessage]) -> list[tuple[Message, bool] | Exception]:
    """messages_create, its visitors resolved."""
    _attachments_resolve(batch)
    results: list[tuple[Message, bool] | Exception | None] = []  # None: filled in below
    checked = _messages_check(batch, results)
    to_store, repeats = _messages_rate(checked, results)
    publish: list[tuple[str, dict[str, Any]]] = []  # conversations opened first, then the messages
    to_store = _messages_place(to_store, results, publish)
    stored = _messages_insert([message for _index, message in to_store])
    redeliver, touched, replied = _messages_audience(to_store, stored, results, publish)
    new_messages = [outcome[0] for outcome in stored if isinstance(outcome, tuple) and outcome[1]]
    publish += _messages_hooks(new_messages)
    for index, first in repeats:
        result = results[first]
        results[index] = (result[0], False) if isinstance(result, tuple) else result
    _visitors_touch(stored, touched, replied)
    if publish:
        publish_on_commit(publish)
    if redeliver:
        publish_on_commit(redeliver, redelivery=True)
    return [result for result in results if result is not None]  # every slot is filled by now


_Slots = list[tuple[Message, bool] | Exception | None]


def _messages_check(batch: list[NewMessage], results: _Slots) -> list[tuple[int, Message, tuple[str, int, int]]]:
    """Check: each message as its sender may send it; the refused ones get their error in `results`."""
    checked: list[tuple[int, Message, tuple[str, int, int]]] = []
    for index, new in enumerate(batch):
        try:
            message, hit = _message_checked(new)
        except ChatError as exc:
            results.append(exc)
        else:
            results.append(None)
            checked.append((index, message, hit))
    return checked


def _messages_rate(
    checked: list[tuple[int, Message, tuple[str, int, int]]], results: _Slots
) -> tuple[list[tuple[int, Message]], list[tuple[int, int]]]:
    """Rate: one Redis round trip counts every rate limit; a client_id sent twice in one batch is stored
    once. (index, message) to store, and (index, index of its first) for the repeats."""
    allowed = rate_limits_allow([hit for _index, _message, hit in checked]) if checked else []
    unique: dict[tuple[int, str, str], int] = {}
    to_store: list[tuple[int, Message]] = []
    repeats: list[tuple[int, int]] = []
    for (index, message, _hit), ok in zip(checked, allowed, strict=True):
        if not ok:
            results[index] = rate_limited_error()
            continue
        key = (message.visitor_id, message.sender, message.client_id)
        if key in unique:
            repeats.append((index, unique[key]))
        else:
            unique[key] = index
            to_store.append((index, message))
    return to_store, repeats


def _messages_place(
    to_store: list[tuple[int, Message]], results: _Slots, publish: list[tuple[str, dict[str, Any]]]
) -> list[tuple[int, Message]]:
    """Place in a conversation: messages join (or open) their visitor's live conversation; a note joins the
    latest one, and without any it is refused. What is left to store."""
    _conversations_attach([message for _index, message in to_store if message.sender != Message.Sender.NOTE], publish)
    notes = [message for _index, message in to_store if message.sender == Message.Sender.NOTE]
    if not notes:
        return to_store
    homeless = {id(note) for note in _notes_place(notes)}
    for index, message in to_store:
        if id(message) in homeless:
            results[index] = ChatError(
                "no_conversation", _("The visitor has no conversation to write a note in yet."), 409
            )
    return [(index, message) for index, message in to_store if id(message) not in homeless]


def _messages_audience(
    to_store: list[tuple[int, Message]],
    stored: list[tuple[Message, bool] | Exception],
    results: _Slots,
    publish: list[tuple[str, dict[str, Any]]],
) -> tuple[list[tuple[str, dict[str, Any]]], dict[int, Visitor], set[int]]:
    """Audience: each stored message's frame for the groups that may see it (a resend only to the sockets that
    never got it); the visitors whose last message time moves and the conversations first replied to."""
    redeliver: list[tuple[str, dict[str, Any]]] = []
    touched: dict[int, Visitor] = {}
    replied: set[int] = set()
    for (index, _message), outcome in zip(to_store, stored, strict=True):
        results[index] = outcome
        if isinstance(outcome, Exception):
            continue
        message, created = outcome
        visitor = message.visitor
        targets = _audience_groups(
            message, frames.message_new_frame(frames.message_payload(message, visitor.visitor_id))
        )
        if not created:
            redeliver += targets  # not announced again (frames.redelivery_event)
            continue
        publish += targets
        if not visitor_may_see(message.sender):  # a note: not the visitor's last message, not a reply
            continue
        # Denormalised for the console's "recent" order and, the visitor having one live conversation, as
        # that conversation's last activity (frames.conversation_payload, closing idle ones): a few seconds'
        # precision will do, and a busy conversation costs one UPDATE per LAST_MESSAGE_PRECISION.
        previous = visitor.last_message_at
        if previous is None or message.created_at - previous >= _LAST_MESSAGE_PRECISION:
            touched[visitor.pk] = visitor
        conversation = message.conversation
        if message.sender == Message.Sender.AGENT and conversation.first_reply_at is None:
            replied.add(message.conversation_id)
            conversation.first_reply_at = message.created_at
    return redeliver, touched, replied


def _messages_hooks(new_messages: list[Message]) -> list[tuple[str, dict[str, Any]]]:
    """Hooks: what the apps above answer (chat.hooks.messages_stored: keyword auto-replies), stored after
    what they answer and added to `new_messages`; the committed batch is announced to them too."""
    publish: list[tuple[str, dict[str, Any]]] = []
    answers = [answer for batch in hooks.messages_stored.send(new_messages) for answer in batch] if new_messages else []
    stored_answers: list[Message] = []
    for outcome in _messages_insert(answers) if answers else ():
        if isinstance(outcome, tuple) and outcome[1]:
            new_messages.append(outcome[0])
            stored_answers.append(outcome[0])
            answer = frames.message_new_frame(frames.message_payload(outcome[0], outcome[0].visitor.visitor_id))
            publish += _audience_groups(outcome[0], answer)
    if stored_answers:  # new messages too (a channel writes their deliveries); answers to answers are not stored
        hooks.messages_stored.send(stored_answers)
    if new_messages:
        hooks.messages_committed.send_on_commit(new_messages)
    return publish


def _visitors_touch(
    stored: list[tuple[Message, bool] | Exception], touched: dict[int, Visitor], replied: set[int]
) -> None:
    """The visitors' last message time and the conversations' first reply, one UPDATE each for the batch."""
    if not touched and not replied:
        return
    now = max(outcome[0].created_at for outcome in stored if isinstance(outcome, tuple) and outcome[1])
    if touched:
        Visitor.objects.filter(pk__in=list(touched)).update(last_message_at=now)
        for visitor in touched.values():
            visitor.last_message_at = now
    if replied:
        Conversation.objects.filter(pk__in=replied, first_reply_at__isnull=True).update(first_reply_at=now)


def message_create(
    *,
    visitor: Visitor,
    sender: str,
    content: Any,
    client_id: Any,
    agent: User | None = None,
    attachment: Any = None,
) -> tuple[Message, bool]:
    """Store a message once per (visitor, sender, client_id) and publish it; (message, created).

    A resend of a stored client_id returns the stored message and announces nothing new (it is offered
    again only to sockets that never got it: see messages_create).
    """
    new = NewMessage(visitor, sender, content, client_id, agent, attachment=attachment)
    result = messages_create([new])[0]
    if isinstance(result, Exception):
        raise result
    return result


def message_automatic_create(
    *, visitor: Visitor, content: str, client_id: str, meta: dict[str, Any]
) -> tuple[Message, bool]:
    """Store an automatic message of the enterprise to the visitor (sender agent, no agent: a channel's
    greeting), once per client_id, in the visitor's live conversation (opening one, routed, if none) and
    publish it like any agent message, so that the hooks (a channel's sending) see it; (message, created)."""
    new = NewMessage(visitor, Message.Sender.AGENT, content, client_id, meta=dict(meta), automatic=True)
    result = messages_create([new])[0]
    if isinstance(result, Exception):
        raise result
    return result


_PHONE = re.compile(r"\+?[0-9][0-9 \-]*[0-9]")
_NAME_MAX = 100


def _clean_contact(contact: Any) -> str:
    """A phone number (digits, `+`, spaces, dashes; 5 to 30 characters) or an e-mail address."""
    text = contact.strip() if isinstance(contact, str) else ""
    if "@" in text:
        try:
            EmailValidator()(text)
        except ValidationError:
            pass
        else:
            return text
    elif 5 <= len(text) <= 30 and _PHONE.fullmatch(text):
        return text
    raise ChatError("bad_contact", _("Enter a phone number or an e-mail address."))


def offline_message_leave(*, visitor: Visitor, name: Any, contact: Any, content: Any) -> Message:
    """Store a message left while no agent was online: a visitor message like any other (so it opens a
    conversation that waits in the queue and is published after commit), marked in `meta` with the name
    and contact given; the visitor's name (if given) and `extra["contact"]` are updated with it."""
    if name is None:
        name = ""
    if not isinstance(name, str) or len(name.strip()) > _NAME_MAX:
        raise ChatError("bad_name", _("The name must be at most %(limit)d characters.") % {"limit": _NAME_MAX})
    name = name.strip()
    contact = _clean_contact(contact)
    content = _clean_content(content)
    with transaction.atomic():
        fields = ["extra"]
        if name:
            visitor.name = name
            fields.append("name")
        visitor.extra = {**(visitor.extra if isinstance(visitor.extra, dict) else {}), EXTRA_CONTACT: contact}
        visitor.save(update_fields=fields)
        result = messages_create(
            [
                NewMessage(
                    visitor,
                    Message.Sender.VISITOR,
                    content,
                    f"leave-{uuid.uuid4().hex}",
                    meta={"left_message": True, "name": name, "contact": contact},
                )
            ]
        )[0]
        if isinstance(result, Exception):
            raise result
    return result[0]


def messages_mark_read(*, agent: User, visitor: Visitor, up_to: int) -> int:
    """Mark the visitor's messages up to `up_to` read on behalf of the agent's team; how many changed."""
    if agent.enterprise_id != visitor.enterprise_id:
        raise not_found(_("Visitor"))
    return _mark_read(visitor, Message.Sender.VISITOR, up_to, frames.read_frame(visitor.visitor_id, up_to, agent.pk))


def messages_mark_read_by_visitor(*, visitor: Visitor, up_to: int) -> int:
    """The visitor has seen the agents' messages up to `up_to`: mark them read; how many changed.

    Agents' consoles and the visitor's other tabs hear it as `visitor.read`, a frame of its own: older
    consoles know `read` as "an agent read the visitor's messages".
    """
    return _mark_read(visitor, Message.Sender.AGENT, up_to, frames.visitor_read_frame(visitor.visitor_id, up_to))


def _mark_read(visitor: Visitor, sender: str, up_to: int, payload: dict[str, Any]) -> int:
    """Mark `sender`'s unread messages of the visitor up to `up_to` read; when any changed, tell the
    enterprise's agents and the visitor's sockets with `payload`, after the commit. How many changed."""
    with transaction.atomic():
        changed = Message.objects.filter(visitor=visitor, sender=sender, pk__lte=up_to, read_at__isnull=True).update(
            read_at=timezone.now()
        )
        if changed:
            publish_on_commit(
                [(frames.group_agents(visitor.enterprise_id), payload), (frames.group_visitor(visitor.pk), payload)]
            )
    return changed
