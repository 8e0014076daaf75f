"""Visitor tokens: what a visitor's token proves, and whether it still holds under the enterprise's identity
secret (enterprises.identity signs and checks the identities themselves)."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from django.conf import settings
from django.core import signing

from enterprises.identity import identity_fingerprint

_SALT = "gofly.visitor-token.v1"


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


def visitor_token_fits(identity: str, identity_secret: str) -> bool:
    """Whether a token issued under the secret with fingerprint `identity` still holds for an enterprise
    whose identity secret is now `identity_secret`. Without a secret any token of the enterprise holds;
    with one, only tokens issued under that very secret: turning verification on, or rotating the
    secret, ends the tokens given out before (docs/protocol.md 5.3), so that an id claimed unsigned, or
    signed with a leaked secret, no longer reads anyone's conversation."""
    return not identity_secret or hmac.compare_digest(identity, identity_fingerprint(identity_secret))
