"""Visitor tokens: what a visitor's token proves, and whether it still holds under the enterprise's identity
secret, or the previous one during a rotation's grace (enterprises.identity signs and checks the identities
themselves)."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.core import signing

from enterprises.identity import identity_fingerprint, identity_secret_previous_live

if TYPE_CHECKING:
    from enterprises.models import Enterprise

_SALT = "gofly.visitor-token.v1"
_TICKET_SALT = "gofly.visitor-ticket.v1"
TICKET_MAX_AGE = 120  # seconds: from a channel app's redirect to the page's login
TICKET_MAX_LENGTH = 300


@dataclass(frozen=True)
class VisitorClaim:
    visitor_pk: int
    enterprise_id: int
    # identity_fingerprint of the enterprise's identity secret when the token was issued ("" for none).
    identity: str = ""


def visitor_token_issue(*, visitor_pk: int, enterprise_id: int, identity: str = "") -> str:
    data: dict[str, object] = {"v": visitor_pk, "e": enterprise_id}
    if identity:
        data["i"] = identity
    return signing.dumps(data, salt=_SALT, compress=False)


def visitor_token_read(token: str | None) -> VisitorClaim | None:
    """The claim a token proves, or None if it is missing, forged or older than VISITOR_TOKEN_MAX_AGE."""
    if not token or len(token) > 512:
        return None
    try:
        data = signing.loads(token, salt=_SALT, max_age=settings.GOFLY["VISITOR_TOKEN_MAX_AGE"])
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("v"), int) or not isinstance(data.get("e"), int):
        return None
    identity = data.get("i", "")
    if not isinstance(identity, str):
        return None
    return VisitorClaim(visitor_pk=data["v"], enterprise_id=data["e"], identity=identity)


def visitor_token_fits(identity: str, enterprise: Enterprise) -> bool:
    """Whether a token issued under the secret with fingerprint `identity` still holds for `enterprise` now.
    Without a secret any token of the enterprise holds; with one, only tokens issued under that very secret,
    or under the one its last rotation replaced until that one's grace ends: turning verification on, or
    rotating the secret without a grace, ends the tokens given out before (docs/protocol.md 5.3), so that
    an id claimed unsigned, or signed with a leaked secret, no longer reads anyone's conversation.

    Called per socket and per visitor request with the enterprise row loaded: no query, and the clock is
    read only for a token that does not fit the current secret while a previous one is kept."""
    secret = enterprise.identity_secret
    if not secret or hmac.compare_digest(identity, identity_fingerprint(secret)):
        return True
    previous = identity_secret_previous_live(enterprise) if enterprise.identity_secret_previous else ""
    return bool(previous) and hmac.compare_digest(identity, identity_fingerprint(previous))


def visitor_token_identity(enterprise: Enterprise, held: str = "") -> str:
    """The fingerprint a token issued now records, for a visitor who proved themselves with `held`: the
    fingerprint of the secret their signed identity or token was of. The current secret's, unless what they
    held is of the previous secret during its grace: then the new token is of that one too and ends with the
    grace, so that a login or token refresh during the grace never turns what the old (perhaps leaked)
    secret proved into a token that outlives it."""
    previous = identity_secret_previous_live(enterprise) if held and enterprise.identity_secret_previous else ""
    if previous and hmac.compare_digest(held, identity_fingerprint(previous)):
        return held
    return identity_fingerprint(enterprise.identity_secret)


# --- tickets: a channel app vouches for a visitor --------------------------------------------------------


@dataclass(frozen=True)
class VisitorTicket:
    visitor_pk: int
    enterprise_id: int
    nonce: str  # what makes it single-use (chat.services.visitors redeems it once)


def visitor_ticket_issue(*, visitor_pk: int, enterprise_id: int) -> str:
    """A short-lived ticket by which a channel app (wechat's web authorisation) tells the visitor page's next
    login who the visitor is: signed, of one enterprise, valid TICKET_MAX_AGE seconds and redeemed once. It
    travels in the page's URL (`ticket`), so it is never a token: a ticket seen later opens nothing."""
    data = {"v": visitor_pk, "e": enterprise_id, "n": secrets.token_urlsafe(12)}
    return signing.dumps(data, salt=_TICKET_SALT, compress=False)


def visitor_ticket_read(ticket: str | None) -> VisitorTicket | None:
    """What a ticket vouches for, or None if it is missing, forged or older than TICKET_MAX_AGE (not whether
    it was used: chat.services.visitors redeems it)."""
    if not ticket or len(ticket) > TICKET_MAX_LENGTH:
        return None
    try:
        data = signing.loads(ticket, salt=_TICKET_SALT, max_age=TICKET_MAX_AGE)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or not all(isinstance(data.get(key), want) for key, want in _TICKET_FIELDS):
        return None
    return VisitorTicket(visitor_pk=data["v"], enterprise_id=data["e"], nonce=data["n"])


_TICKET_FIELDS = (("v", int), ("e", int), ("n", str))
