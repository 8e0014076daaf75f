"""Writes of the chat: visitor login, messages, read state. Each publishes its events after commit."""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F, OuterRef, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User, username_normalise
from core import health, jsonin
from core.errors import ChatError, forbidden_origin, not_found
from core.ratelimit import rate_limit, rate_limited_error, rate_limits_allow
from core.safety import avatar_or
from core.savepoints import nested_savepoint
from enterprises.models import Enterprise
from enterprises.origins import origin_allowed
from enterprises.selectors import enterprise_for_visitor

from . import frames, hooks, products, visitor_info
from .access import access_visitor_self
from .blacklist import address_blocked_error, blocked_error, visitor_block_active
from .conversations import (
    agent_presence_changed,
    conversation_of,
    conversation_remember,
    conversations_claim_by_reply,
    conversations_open,
)
from .identity import (
    PUBLIC_ID,
    SignedIdentity,
    identity_fingerprint,
    identity_verify,
    visitor_token_issue,
    visitor_token_read,
)
from .models import Attachment, Conversation, Message, Visitor, visitor_may_see
from .realtime.broadcast import publish_on_commit
from .realtime.presence import AGENT, VISITOR, online_or_nobody
from .uploads import attachment_message_parts, attachments_for_messages

logger = logging.getLogger(__name__)

_HANDHELD = {visitor_info.DeviceKind.MOBILE, visitor_info.DeviceKind.TABLET}
_EXTRA_MAX = 4096
# Keys of `Visitor.extra` the server writes (a left message's contact): a page's next `extra` keeps them.
EXTRA_CONTACT = "contact"
_EXTRA_SERVER_KEYS = (EXTRA_CONTACT,)
# Deeper than any real page's data; MariaDB refuses JSON deeper than 32 levels, whatever its size.
_EXTRA_DEPTH = 10
_LAST_MESSAGE_PRECISION = timedelta(seconds=10)


@dataclass
class VisitorLogin:
    visitor: Visitor
    token: str
    created: bool
    enterprise: Enterprise
    agent: User | None
    product: dict[str, str] | None = None  # the product this login's page shows (chat.products)


def _decode_extra(extra: Any) -> dict[str, Any]:
    """`extra` as the original sends it (base64 of a JSON object, padding optional) or as an object."""
    if extra in (None, "", {}):
        return {}
    try:
        if isinstance(extra, str):
            if len(extra) > _EXTRA_MAX * 2:
                raise ChatError("bad_extra", _("extra is too large."))
            try:
                raw = base64.b64decode(
                    extra + "=" * (-len(extra) % 4), altchars=b"-_" if "-" in extra or "_" in extra else None
                )
            except (binascii.Error, ValueError):
                raise ChatError("bad_extra", _("extra must be base64 of a JSON object.")) from None
            extra = jsonin.loads(raw, max_depth=_EXTRA_DEPTH)
        else:
            # Also when the body parser has checked it already: not every caller comes through one.
            jsonin.check(extra, max_depth=_EXTRA_DEPTH)
    except jsonin.InputError as exc:
        if exc.code == "bad_text":
            raise ChatError(exc.code, exc.message) from None
        raise ChatError(
            "bad_extra",
            _("extra must be a JSON object nested at most %(limit)d levels deep.") % {"limit": _EXTRA_DEPTH},
        ) from None
    if not isinstance(extra, dict):
        raise ChatError("bad_extra", _("extra must be a JSON object."))
    try:
        size = len(json.dumps(extra, allow_nan=False))
    except ValueError:  # a float too big for JSON (1e999 parses as inf)
        raise ChatError("bad_extra", _("extra must be a JSON object.")) from None
    if size > _EXTRA_MAX:
        raise ChatError("bad_extra", _("extra is too large."))
    return extra


def visitor_login(
    *,
    enterprise_id: Any,
    kefu_id: str | None,
    token: str | None,
    visitor_id: str | None,
    visitor_name: str | None,
    avatar: str | None,
    ip: str | None,
    user_agent: str,
    referrer: str,
    landing_page: str,
    extra: Any,
    origin: str | None = None,
    own_origin: str | None = None,
    timestamp: str | None = None,
    signature: str | None = None,
) -> VisitorLogin:
    """Create or resume a visitor and issue the signed token that proves who they are.

    A valid token resumes its visitor. A bare `visitor_id` (the operator's own id) is taken for a new
    visitor only: it never resumes an existing one, since knowing an id must not open a conversation.
    An enterprise with an identity secret takes only identities signed with it (chat.identity): a signed
    `visitor_id` resumes that visitor on any device, and without one only a token of its own opens the chat.
    `origin` is the request's Origin header, `own_origin` the origin it came to (enterprises.origins).
    """
    enterprise, blacklisted = enterprise_for_visitor(enterprise_id, ip)
    if enterprise is None:
        raise not_found(_("Enterprise"))
    if not origin_allowed(enterprise, origin, own_origin):
        raise forbidden_origin()
    if blacklisted:
        raise address_blocked_error()
    rate_limit(f"login:{ip}", *settings.GOFLY["RATE_LOGIN_PER_IP"])
    agent = None
    if kefu_id:
        agent = User.objects.filter(enterprise=enterprise, username=username_normalise(kefu_id), is_active=True).first()
        if agent is None:
            raise not_found(_("Agent"))
    extra_data, product = products.extra_with_product(_decode_extra(extra), base=landing_page or referrer or "")
    signed: SignedIdentity | None = None
    refusal: ChatError | None = None
    if enterprise.identity_secret:
        try:
            signed = identity_verify(
                secret=enterprise.identity_secret,
                visitor_id=visitor_id,
                visitor_name=visitor_name,
                avatar=avatar,
                timestamp=timestamp,
                signature=signature,
            )
        except ChatError as exc:
            refusal = exc
        # Only what the operator signed names the visitor: the page's unsigned name and avatar (in the
        # link or in `extra`) could be anyone's.
        name = signed.visitor_name.strip()[:100] if signed else ""
        avatar = avatar_or(signed.avatar, "") if signed else ""
    else:
        name = str(visitor_name or extra_data.get("visitorName") or "").strip()[:100]
        avatar = avatar_or(avatar, "") or avatar_or(extra_data.get("visitorAvatar"), "")
    fields = {
        "ip": ip,
        "user_agent": (user_agent or "")[:500],
        "referrer": (referrer or "")[:1000],
        "landing_page": (landing_page or "")[:1000],
        **visitor_info.describe(ip=ip, user_agent=user_agent, referrer=referrer),
    }

    claim = visitor_token_read(token)
    visitor = None
    if claim and claim.enterprise_id == enterprise.pk:
        try:
            # A token issued before the identity secret was set (or under an older one) resumes nobody.
            visitor = access_visitor_self(
                enterprise_id=enterprise.pk, visitor_pk=claim.visitor_pk, identity=claim.identity
            )
        except ChatError:
            visitor = None  # deleted since, or its token no longer holds: a new visitor, as without a token
    if signed is not None:
        if visitor is None or visitor.visitor_id != signed.visitor_id:
            visitor = (
                Visitor.objects.filter(enterprise=enterprise, visitor_id=signed.visitor_id)
                .select_related("block")
                .first()
            )
        if visitor is not None and not visitor.identity_verified:
            _visitor_set_aside(visitor)  # claimed unsigned, before the secret: never the signed user's
            visitor = None
    elif refusal is not None and (visitor is None or (visitor_id and visitor.visitor_id != visitor_id)):
        # A token of the visitor the link names still resumes it once the link's signature has expired
        # (the page logging in again an hour later); any other login needs a valid signature.
        raise refusal
    created = False
    if visitor is None:
        public_id = visitor_id if visitor_id and PUBLIC_ID.fullmatch(visitor_id) else ""
        new = Visitor(
            enterprise=enterprise,
            agent=agent,
            extra=extra_data,
            avatar=avatar
            or ("/static/img/visitor-mobile.svg" if fields["device"] in _HANDHELD else "/static/img/visitor.svg"),
            identity_verified=signed is not None,
            **fields,
        )
        visitor = _visitor_insert(new, public_id or uuid.uuid4().hex, name)
        created = visitor is not None
        if visitor is None and signed is not None:  # a login of the same identity at the same moment
            visitor = Visitor.objects.filter(
                enterprise=enterprise, visitor_id=signed.visitor_id, identity_verified=True
            ).first()
        if visitor is None:  # the operator's id is taken (by an earlier visit, or a login at the same moment)
            visitor = _visitor_insert(new, uuid.uuid4().hex, name)
            if visitor is None:  # pragma: no cover - 122 random bits
                raise IntegrityError("a fresh visitor UUID collided")
            created = True
    if not created and visitor_block_active(visitor) is not None:
        raise blocked_error()
    if not created:
        with transaction.atomic():
            for key, value in fields.items():
                setattr(visitor, key, value)
            if extra_data:  # the page's new `extra`, keeping the contact the visitor left with us
                kept = visitor.extra if isinstance(visitor.extra, dict) else {}
                visitor.extra = {**extra_data, **{k: kept[k] for k in _EXTRA_SERVER_KEYS if k in kept}}
            if name:
                visitor.name = name
            if avatar:
                visitor.avatar = avatar
            if agent is not None:
                visitor.agent = agent
            visitor.visits = F("visits") + 1
            visitor.save()
            visitor.refresh_from_db(fields=["visits", "updated_at"])
    return VisitorLogin(
        visitor=visitor,
        token=visitor_token_issue(
            visitor_pk=visitor.pk,
            enterprise_id=enterprise.pk,
            identity=identity_fingerprint(enterprise.identity_secret),
        ),
        created=created,
        enterprise=enterprise,
        agent=visitor.agent if visitor.agent_id else None,
        product=product,
    )


def _visitor_set_aside(visitor: Visitor) -> None:
    """Give a visitor created unsigned under an id a signed login now claims a fresh id of its own: its
    history stays with it, under the new id, and the signed user starts a visitor of their own. Joining
    the two is the operator's call, never automatic (README, "Verified visitor identity")."""
    fresh = uuid.uuid4().hex
    Visitor.objects.filter(pk=visitor.pk, identity_verified=False).update(visitor_id=fresh)
    logger.info("visitor %s of enterprise %s was unsigned: set aside as %s", visitor.pk, visitor.enterprise_id, fresh)


def _visitor_insert(visitor: Visitor, public_id: str, name: str) -> Visitor | None:
    """INSERT `visitor` under `public_id`, or None where the enterprise already has that id."""
    visitor.visitor_id = public_id
    visitor.name = name or _("Guest %(code)s") % {"code": public_id[-4:].upper()}
    try:
        with nested_savepoint():
            visitor.save(force_insert=True)
    except IntegrityError:
        visitor.pk = None
        # Only a row that holds the id makes it taken: any other refusal (a check constraint on `extra`,
        # a foreign key) would fail again under a fresh id, so it is the caller's error, not a collision.
        if not Visitor.objects.filter(enterprise_id=visitor.enterprise_id, visitor_id=public_id).exists():
            raise
        return None
    return visitor


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
        kind, content, meta = attachment_message_parts(new.attachment_row, visitor=visitor, sender=new.sender)
    else:
        content = _clean_content(new.content)
    if new.sender in (Message.Sender.AGENT, Message.Sender.NOTE):
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
        if isinstance(exc, DatabaseError) and not transaction.get_connection().is_usable():
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
    _attachments_resolve(batch)
    results: list[tuple[Message, bool] | Exception | None] = []  # None: filled in below
    checked: list[tuple[int, Message, tuple[str, int, int]]] = []
    for index, new in enumerate(batch):
        try:
            message, hit = _message_checked(new)
        except ChatError as exc:
            results.append(exc)
        else:
            results.append(None)
            checked.append((index, message, hit))
    allowed = rate_limits_allow([hit for _index, _message, hit in checked]) if checked else []
    unique: dict[tuple[int, str, str], int] = {}  # a client_id sent twice in one batch: stored once
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
    publish: list[tuple[str, dict[str, Any]]] = []  # conversations opened first, then the messages
    _conversations_attach([message for _index, message in to_store if message.sender != Message.Sender.NOTE], publish)
    notes = [message for _index, message in to_store if message.sender == Message.Sender.NOTE]
    if notes:
        homeless = {id(note) for note in _notes_place(notes)}
        for index, message in to_store:
            if id(message) in homeless:
                results[index] = ChatError(
                    "no_conversation", _("The visitor has no conversation to write a note in yet."), 409
                )
        to_store = [(index, message) for index, message in to_store if id(message) not in homeless]
    stored = _messages_insert([message for _index, message in to_store])
    redeliver: list[tuple[str, dict[str, Any]]] = []
    touched: dict[int, Visitor] = {}
    replied: set[int] = set()
    for (index, _message), outcome in zip(to_store, stored, strict=True):
        results[index] = outcome
        if isinstance(outcome, Exception):
            continue
        message, created = outcome
        visitor = message.visitor
        payload = frames.message_new_frame(frames.message_payload(message, visitor.visitor_id))
        targets = _audience_groups(message, payload)
        note = not visitor_may_see(message.sender)
        if not created:
            # Not announced again; only offered to sockets that never got it (frames.redelivery_event).
            redeliver += targets
            continue
        publish += targets
        if note:  # nothing the visitor sees or the queue orders by: not their last message, not a reply
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
    new_messages = [outcome[0] for outcome in stored if isinstance(outcome, tuple) and outcome[1]]
    # What the apps above answer (chat.hooks.messages_stored: keyword auto-replies), after what they answer.
    answers = [answer for batch in hooks.messages_stored.send(new_messages) for answer in batch] if new_messages else []
    for outcome in _messages_insert(answers) if answers else ():
        if isinstance(outcome, tuple) and outcome[1]:
            new_messages.append(outcome[0])
            answer = frames.message_new_frame(frames.message_payload(outcome[0], outcome[0].visitor.visitor_id))
            publish += _audience_groups(outcome[0], answer)
    if new_messages:
        hooks.messages_committed.send_on_commit(new_messages)
    for index, first in repeats:
        result = results[first]
        results[index] = (result[0], False) if isinstance(result, tuple) else result
    if touched or replied:
        now = max(outcome[0].created_at for outcome in stored if isinstance(outcome, tuple) and outcome[1])
    if touched:
        Visitor.objects.filter(pk__in=list(touched)).update(last_message_at=now)
        for visitor in touched.values():
            visitor.last_message_at = now
    if replied:
        Conversation.objects.filter(pk__in=replied, first_reply_at__isnull=True).update(first_reply_at=now)
    if publish:
        publish_on_commit(publish)
    if redeliver:
        publish_on_commit(redeliver, redelivery=True)
    return [result for result in results if result is not None]  # every slot is filled by now


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


# --- presence and typing: hints with nothing to store, published at once ------------------------------


async def _hint(items: list[tuple[str, dict[str, Any]]]) -> None:
    """Publish frames that the next `ready` or list refresh would correct anyway: a failure is only noted."""
    layer = get_channel_layer()
    assert layer is not None
    try:
        for group, frame_ in items:
            await layer.group_send(group, frames.event(frame_))
    except health.INFRASTRUCTURE_ERRORS as exc:
        health.failed(health.LAYER, exc)


async def visitor_came_online(*, visitor: Visitor, summary: dict[str, Any]) -> None:
    await _hint([(frames.group_agents(visitor.enterprise_id), frames.visitor_online_frame(summary))])


async def visitors_went_offline(*, gone: list[tuple[int, str]]) -> None:
    """(enterprise id, public visitor id) of visitors whose last socket closed or stopped beating."""
    await _hint([(frames.group_agents(ent), frames.visitor_offline_frame(public_id)) for ent, public_id in gone])


async def agents_online_announce(*, enterprise_id: int) -> None:
    """Tell the enterprise's visitors how many agents are online."""
    count = len(await online_or_nobody(enterprise_id, AGENT))
    await _hint([(frames.group_visitors(enterprise_id), frames.agents_online_frame(count))])


async def visitor_typing(*, visitor: Visitor, draft: str) -> None:
    await _hint(
        [(frames.group_agents(visitor.enterprise_id), frames.typing_from_visitor_frame(visitor.visitor_id, draft))]
    )


async def agent_typing(*, agent: User, visitor: Visitor) -> None:
    await _hint([(frames.group_visitor(visitor.pk), frames.typing_from_agent_frame(visitor.visitor_id, agent))])


async def presence_expired(gone: list[tuple[int, str, int]]) -> None:
    """chat.hooks.presence_gone: owners whose every process stopped beating (chat.realtime.heartbeat):
    visitors reported offline to agents, agents to their colleagues and to visitors."""
    if not gone:
        return
    visitor_pks = [pk for _ent, kind, pk in gone if kind == VISITOR]
    public_ids = dict(
        await database_sync_to_async(
            lambda: list(Visitor.objects.filter(pk__in=visitor_pks).values_list("pk", "visitor_id"))
        )()
    )
    await visitors_went_offline(
        gone=[(ent, public_ids[pk]) for ent, kind, pk in gone if kind == VISITOR and pk in public_ids]
    )
    agent_pks = [pk for _ent, kind, pk in gone if kind == AGENT]
    if agent_pks:
        agents = await database_sync_to_async(
            lambda: list(User.objects.filter(pk__in=agent_pks).select_related("enterprise"))
        )()
        for agent in agents:
            await database_sync_to_async(agent_presence_changed)(agent=agent, online=False)
        for enterprise_id in {ent for ent, kind, _pk in gone if kind == AGENT}:
            await agents_online_announce(enterprise_id=enterprise_id)
