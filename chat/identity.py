"""Visitor tokens and signed visitor identities (HMAC)."""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.core import signing
from django.utils.translation import gettext as _

from core.errors import ChatError

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


@lru_cache(maxsize=1024)
def identity_fingerprint(secret: str) -> str:
    """What a visitor token records of the identity secret it was issued under: a keyed digest, so that a
    token says nothing of the secret; "" for no secret."""
    if not secret:
        return ""
    digest = hmac.new(settings.SECRET_KEY.encode(), b"gofly.identity-secret\n" + secret.encode(), hashlib.sha256)
    return digest.hexdigest()[:16]


def visitor_token_fits(identity: str, identity_secret: str) -> bool:
    """Whether a token issued under the secret with fingerprint `identity` still holds for an enterprise
    whose identity secret is now `identity_secret`. Without a secret any token of the enterprise holds;
    with one, only tokens issued under that very secret: turning verification on, or rotating the
    secret, ends the tokens given out before (docs/protocol.md 5.3), so that an id claimed unsigned, or
    signed with a leaked secret, no longer reads anyone's conversation."""
    return not identity_secret or hmac.compare_digest(identity, identity_fingerprint(identity_secret))


_HEX_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
_TIMESTAMP = re.compile(r"[0-9]{1,20}")
PUBLIC_ID = re.compile(r"[A-Za-z0-9_.:|@-]{1,64}")


@dataclass(frozen=True)
class SignedIdentity:
    visitor_id: str
    visitor_name: str
    avatar: str


def identity_message(*, visitor_id: str, visitor_name: str, avatar: str, timestamp: str) -> str:
    """The canonical string an operator signs (README, "Verified visitor identity").

    Unambiguous: visitor_id and timestamp hold no line break by their syntax, and identity_verify
    refuses a name or avatar that holds one.
    """
    return f"{visitor_id}\n{visitor_name}\n{avatar}\n{timestamp}"


def identity_sign(*, secret: str, visitor_id: str, visitor_name: str = "", avatar: str = "", timestamp: str) -> str:
    """The hex HMAC-SHA256 an operator's server computes; here for tests and the README's examples."""
    message = identity_message(visitor_id=visitor_id, visitor_name=visitor_name, avatar=avatar, timestamp=timestamp)
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def identity_verify(
    *,
    secret: str,
    visitor_id: str | None,
    visitor_name: str | None,
    avatar: str | None,
    timestamp: str | None,
    signature: str | None,
    now: float | None = None,
) -> SignedIdentity:
    """The identity `signature` proves, or a ChatError saying why none is proven.

    The signature is checked before the time, so that only its holder learns that a link has expired.
    """
    visitor_id, visitor_name, avatar = visitor_id or "", visitor_name or "", avatar or ""
    timestamp, signature = str(timestamp or ""), signature or ""
    if not signature:
        raise ChatError(
            "identity_required", _("This chat needs a signed visitor identity from the site that links to it."), 403
        )
    bad = ChatError("bad_signature", _("The visitor identity is not signed correctly."), 403)
    if (
        not PUBLIC_ID.fullmatch(visitor_id)
        or not _TIMESTAMP.fullmatch(timestamp)
        or not _HEX_SHA256.fullmatch(signature)
        or "\n" in visitor_name
        or "\n" in avatar
    ):
        raise bad
    expected = identity_sign(
        secret=secret, visitor_id=visitor_id, visitor_name=visitor_name, avatar=avatar, timestamp=timestamp
    )
    if not hmac.compare_digest(expected, signature.lower()):
        raise bad
    now = time.time() if now is None else now
    if abs(now - int(timestamp)) > settings.GOFLY["IDENTITY_MAX_SKEW"]:
        raise ChatError("signature_expired", _("The visitor identity has expired: reload the page you came from."), 403)
    return SignedIdentity(visitor_id=visitor_id, visitor_name=visitor_name, avatar=avatar)
