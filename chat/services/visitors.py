"""Visitor login: who the visitor is (token, signed identity, the operator's id), found or created,
refreshed with what the page tells us, and the token that proves it."""

from __future__ import annotations

import base64
import binascii
import json
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils.translation import gettext as _

from accounts.models import User
from core import clientinfo, jsonin
from core.errors import ChatError, forbidden_origin, not_found
from core.ratelimit import rate_limit
from core.safety import avatar_or
from core.savepoints import nested_savepoint
from enterprises.identity import (
    PUBLIC_ID,
    SignedIdentity,
    identity_fingerprint,
    identity_secret_previous_live,
    identity_verify,
)
from enterprises.models import Enterprise
from enterprises.origins import origin_allowed
from enterprises.selectors import enterprise_for_visitor

from .. import products
from ..access import (
    access_visitor_self,
    address_blocked_error,
    agent_by_kefu_id,
    blocked_error,
    visitor_block_active,
)
from ..identity import (
    TICKET_MAX_AGE,
    VisitorClaim,
    visitor_ticket_read,
    visitor_token_identity,
    visitor_token_issue,
    visitor_token_read,
)
from ..models import Visitor
from .merge import visitor_merge

logger = logging.getLogger(__name__)

_HANDHELD = {clientinfo.DeviceKind.MOBILE, clientinfo.DeviceKind.TABLET}
_EXTRA_MAX = 4096
# Keys of `Visitor.extra` the server writes (a left message's contact): a page's next `extra` keeps them.
EXTRA_CONTACT = "contact"
_EXTRA_SERVER_KEYS = (EXTRA_CONTACT,)
# Deeper than any real page's data; MariaDB refuses JSON deeper than 32 levels, whatever its size.
_EXTRA_DEPTH = 10


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
    ticket: str | None = None,
) -> VisitorLogin:
    """Create or resume a visitor and issue the signed token that proves who they are.

    A valid token resumes its visitor. A bare `visitor_id` (the operator's own id) is taken for a new
    visitor only: it never resumes an existing one, since knowing an id must not open a conversation.
    An enterprise with an identity secret takes only identities signed with it (enterprises.identity): a signed
    `visitor_id` resumes that visitor on any device, and without one only a token of its own opens the chat.
    `origin` is the request's Origin header, `own_origin` the origin it came to (enterprises.origins).
    A `ticket` a channel app gave the page (chat.identity.visitor_ticket_issue: a WeChat follower's web
    authorisation) logs in as the visitor it vouches for, once: the web visitor the page's `token` proves is
    merged into it (visitor_merge). A ticket used, expired, forged or of another enterprise is ignored.
    """
    enterprise, agent = _login_gate(enterprise_id, kefu_id, ip, origin, own_origin)
    extra_data, product = products.extra_with_product(_decode_extra(extra), base=landing_page or referrer or "")
    who = _login_identity(enterprise, visitor_id, visitor_name, avatar, timestamp, signature, extra_data)
    fields = {
        "ip": ip,
        "user_agent": (user_agent or "")[:500],
        "referrer": (referrer or "")[:1000],
        "landing_page": (landing_page or "")[:1000],
        **clientinfo.describe(ip=ip, user_agent=user_agent, referrer=referrer),
    }
    claim = visitor_token_read(token)
    vouched = _ticket_redeem(enterprise, ticket) if ticket else None
    if vouched is not None:
        who, visitor_id = _Identity(None, None, "", ""), None  # the channel names the visitor, not the page
        _merge_into(enterprise, claim, vouched)
        claim = None  # the new token is the vouched visitor's, of no earlier secret
        visitor: Visitor | None = vouched
    else:
        visitor = _visitor_find(enterprise, claim, visitor_id, who)
    created = False
    if visitor is None:
        visitor, created = _visitor_create(enterprise, agent, visitor_id, who, extra_data, fields)
    if not created:
        if visitor_block_active(visitor) is not None:
            raise blocked_error()
        _visitor_refresh(visitor, fields, extra_data, who, agent)
    return VisitorLogin(
        visitor=visitor,
        token=visitor_token_issue(
            visitor_pk=visitor.pk, enterprise_id=enterprise.pk, identity=_token_identity(enterprise, who, claim)
        ),
        created=created,
        enterprise=enterprise,
        agent=visitor.agent if visitor.agent_id else None,
        product=product,
    )


@dataclass
class _Identity:
    """Who the login says the visitor is: a signature checked (or refused), and the name and avatar to keep."""

    signed: SignedIdentity | None
    refusal: ChatError | None
    name: str
    avatar: str
    # The fingerprint of the secret that signed `signed` (chat.identity.visitor_token_identity).
    signed_under: str = ""


def _ticket_redeem(enterprise: Enterprise, ticket: str) -> Visitor | None:
    """The visitor a channel's ticket vouches for, if it is valid, of this enterprise and not used before
    (the first login to show it uses it up, on every process: the cache is Redis when there are several)."""
    vouched = visitor_ticket_read(ticket)
    if vouched is None or vouched.enterprise_id != enterprise.pk:
        return None
    if not cache.add(f"chat:visitor-ticket:{vouched.nonce}", 1, timeout=TICKET_MAX_AGE + 5):
        return None
    try:
        return access_visitor_self(enterprise_id=enterprise.pk, visitor_pk=vouched.visitor_pk)
    except ChatError:
        return None


def _merge_into(enterprise: Enterprise, claim: VisitorClaim | None, vouched: Visitor) -> None:
    """The web visitor the page's token proves (only a token proves it, never an id) joins the vouched one."""
    if claim is None or claim.enterprise_id != enterprise.pk or claim.visitor_pk == vouched.pk:
        return
    try:
        source = access_visitor_self(enterprise_id=enterprise.pk, visitor_pk=claim.visitor_pk, identity=claim.identity)
    except ChatError:
        return
    if visitor_block_active(source) is not None:
        raise blocked_error()  # a blocked browser does not start afresh by authorising
    visitor_merge(source=source, into=vouched)


def _login_gate(
    enterprise_id: Any, kefu_id: str | None, ip: str | None, origin: str | None, own_origin: str | None
) -> tuple[Enterprise, User | None]:
    """Check: the enterprise exists and lets this page and address in, within the rate; the named agent."""
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
        agent = agent_by_kefu_id(kefu_id, enterprise_id=enterprise.pk)
        if agent is None:
            raise not_found(_("Agent"))
    return enterprise, agent


def _login_identity(
    enterprise: Enterprise,
    visitor_id: str | None,
    visitor_name: str | None,
    avatar: str | None,
    timestamp: str | None,
    signature: str | None,
    extra_data: dict[str, Any],
) -> _Identity:
    """Identity: with an identity secret only what the operator signed names the visitor (the page's
    unsigned name and avatar, in the link or in `extra`, could be anyone's); without one, the page does."""
    if not enterprise.identity_secret:
        name = str(visitor_name or extra_data.get("visitorName") or "").strip()[:100]
        picture = avatar_or(avatar, "") or avatar_or(extra_data.get("visitorAvatar"), "")
        return _Identity(None, None, name, picture)
    # After a rotation, also the previous secret until its grace ends (new one first).
    previous = identity_secret_previous_live(enterprise)
    try:
        signed = identity_verify(
            secret=enterprise.identity_secret,
            previous=previous,
            visitor_id=visitor_id,
            visitor_name=visitor_name,
            avatar=avatar,
            timestamp=timestamp,
            signature=signature,
        )
    except ChatError as exc:
        return _Identity(None, exc, "", "")
    under = identity_fingerprint(previous if signed.by_previous else enterprise.identity_secret)
    return _Identity(signed, None, signed.visitor_name.strip()[:100], avatar_or(signed.avatar, ""), under)


def _token_identity(enterprise: Enterprise, who: _Identity, claim: VisitorClaim | None) -> str:
    """The fingerprint the login's token records: of the secret that signed its identity, else of the token
    that resumed it (chat.identity.visitor_token_identity: the previous secret's ends with its grace)."""
    if who.signed is not None:
        return visitor_token_identity(enterprise, who.signed_under)
    return visitor_token_identity(enterprise, claim.identity if claim is not None else "")


def _visitor_find(
    enterprise: Enterprise, claim: VisitorClaim | None, visitor_id: str | None, who: _Identity
) -> Visitor | None:
    """Find: the visitor the token's `claim` names, or the one the signed identity names; None for a new one."""
    visitor = None
    if claim and claim.enterprise_id == enterprise.pk:
        try:
            # A token issued before the identity secret was set (or under an older one) resumes nobody.
            visitor = access_visitor_self(
                enterprise_id=enterprise.pk, visitor_pk=claim.visitor_pk, identity=claim.identity
            )
        except ChatError:
            visitor = None  # deleted since, or its token no longer holds: a new visitor, as without a token
    signed = who.signed
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
    elif who.refusal is not None and (visitor is None or (visitor_id and visitor.visitor_id != visitor_id)):
        # A token of the visitor the link names still resumes it once the link's signature has expired
        # (the page logging in again an hour later); any other login needs a valid signature.
        raise who.refusal
    return visitor


def _visitor_create(
    enterprise: Enterprise,
    agent: User | None,
    visitor_id: str | None,
    who: _Identity,
    extra_data: dict[str, Any],
    fields: dict[str, Any],
) -> tuple[Visitor, bool]:
    """Create: a new visitor under the operator's id if it is free, else a fresh one; (visitor, created).
    A login of the same signed identity at the same moment gives that one instead (created False)."""
    public_id = visitor_id if visitor_id and PUBLIC_ID.fullmatch(visitor_id) else ""
    new = Visitor(
        enterprise=enterprise,
        agent=agent,
        extra=extra_data,
        avatar=who.avatar
        or ("/static/img/visitor-mobile.svg" if fields["device"] in _HANDHELD else "/static/img/visitor.svg"),
        identity_verified=who.signed is not None,
        **fields,
    )
    visitor = _visitor_insert(new, public_id or uuid.uuid4().hex, who.name)
    if visitor is not None:
        return visitor, True
    if who.signed is not None:
        raced = Visitor.objects.filter(
            enterprise=enterprise, visitor_id=who.signed.visitor_id, identity_verified=True
        ).first()
        if raced is not None:
            return raced, False
    # The operator's id is taken (by an earlier visit, or a login at the same moment).
    visitor = _visitor_insert(new, uuid.uuid4().hex, who.name)
    if visitor is None:  # pragma: no cover - 122 random bits
        raise IntegrityError("a fresh visitor UUID collided")
    return visitor, True


def _visitor_refresh(
    visitor: Visitor, fields: dict[str, Any], extra_data: dict[str, Any], who: _Identity, agent: User | None
) -> None:
    """Refresh: what the page tells us now, one more visit."""
    with transaction.atomic():
        for key, value in fields.items():
            setattr(visitor, key, value)
        if extra_data:  # the page's new `extra`, keeping the contact the visitor left with us
            kept = visitor.extra if isinstance(visitor.extra, dict) else {}
            visitor.extra = {**extra_data, **{k: kept[k] for k in _EXTRA_SERVER_KEYS if k in kept}}
        if who.name:
            visitor.name = who.name
        if who.avatar:
            visitor.avatar = who.avatar
        if agent is not None:
            visitor.agent = agent
        visitor.visits = F("visits") + 1
        visitor.save()
        visitor.refresh_from_db(fields=["visits", "updated_at"])


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


def channel_visitor_get_or_create(
    *, enterprise: Enterprise, channel: str, public_id: str, name: str, avatar: str = ""
) -> tuple[Visitor, bool]:
    """The visitor a channel app (a WeChat follower, ...) speaks for, under the public id it chose, created on
    its first message with `channel` set; (visitor, created). Two requests at once (a channel's retries) get
    the same row: the (enterprise, visitor_id) constraint decides, and the loser reads the winner's."""
    if not PUBLIC_ID.fullmatch(public_id):
        raise ValueError("a channel visitor's public id must be a valid visitor id")
    found = Visitor.objects.filter(enterprise=enterprise, visitor_id=public_id).select_related("block").first()
    if found is not None:
        return found, False
    new = Visitor(
        enterprise=enterprise,
        channel=channel,
        avatar=avatar_or(avatar, "") or "/static/img/visitor-mobile.svg",
        device=clientinfo.DeviceKind.MOBILE,
    )
    visitor = _visitor_insert(new, public_id, name.strip()[:100])
    if visitor is not None:
        return visitor, True
    return Visitor.objects.select_related("block").get(enterprise=enterprise, visitor_id=public_id), False


def channel_visitor_profile_set(*, visitor: Visitor, name: str, avatar: str = "") -> None:
    """A channel app's visitor's name and avatar as the channel now gives them (a WeChat follower's nickname and
    picture); empty ones keep what is stored, an avatar not https is not taken."""
    values: dict[str, Any] = {}
    if name.strip():
        values["name"] = name.strip()[:100]
    if avatar_or(avatar, "") and avatar.startswith("https://"):
        values["avatar"] = avatar[:300]
    if values:
        Visitor.objects.filter(pk=visitor.pk, enterprise_id=visitor.enterprise_id).update(**values)
        for key, value in values.items():
            setattr(visitor, key, value)


def visitor_extra_merge(*, visitor: Visitor, values: dict[str, Any]) -> None:
    """Set `values` in the visitor's `extra` (a channel app's facts: the QR code a follower scanned),
    keeping its other keys; the row is locked so that two merges at once both hold."""
    with transaction.atomic():
        current = Visitor.objects.select_for_update().filter(pk=visitor.pk).values_list("extra", flat=True).first()
        extra = {**(current if isinstance(current, dict) else {}), **values}
        Visitor.objects.filter(pk=visitor.pk).update(extra=extra)
        visitor.extra = extra


def visitor_agent_prefer(*, visitor: Visitor, agent_id: int) -> bool:
    """Make agent `agent_id` the visitor's routing preference (a channel app's: the agent whose QR code a WeChat
    follower scanned), as a `kefu_id` link does: their next conversation is offered to that agent first
    (routing). Only an active agent of the visitor's own enterprise is taken; anything else changes nothing.
    Whether it was set."""
    agent = User.objects.filter(pk=agent_id, enterprise_id=visitor.enterprise_id, is_active=True).first()
    if agent is None:
        return False
    Visitor.objects.filter(pk=visitor.pk).update(agent=agent)
    visitor.agent = agent
    return True
