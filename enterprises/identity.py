"""Signed visitor identities (HMAC-SHA256 with the enterprise's identity secret): what an operator's server
signs (README, "Verified visitor identity"), how it is checked (with the current secret, and after a rotation
with the previous one until its grace ends), and the fingerprint by which a visitor token records the secret
it was issued under. The chat's visitor login checks identities with it."""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import ChatError

if TYPE_CHECKING:
    from .models import Enterprise

_HEX_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
_TIMESTAMP = re.compile(r"[0-9]{1,20}")
PUBLIC_ID = re.compile(r"[A-Za-z0-9_.:|@-]{1,64}")


@dataclass(frozen=True)
class SignedIdentity:
    visitor_id: str
    visitor_name: str
    avatar: str
    # Signed with the enterprise's previous secret, during its grace (identity_secret_previous_live).
    by_previous: bool = False


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
    previous: str = "",
) -> SignedIdentity:
    """The identity `signature` proves, signed with `secret` or else with `previous` (the secret a rotation
    replaced, while its grace lasts: "" for none), or a ChatError saying why none is proven.

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
    by_previous = None  # the current secret first: after the grace, only it is tried
    for candidate, is_previous in ((secret, False), (previous, True)):
        if not candidate:
            continue
        expected = identity_sign(
            secret=candidate, visitor_id=visitor_id, visitor_name=visitor_name, avatar=avatar, timestamp=timestamp
        )
        if hmac.compare_digest(expected, signature.lower()):
            by_previous = is_previous
            break
    if by_previous is None:
        raise bad
    now = time.time() if now is None else now
    if abs(now - int(timestamp)) > settings.GOFLY["IDENTITY_MAX_SKEW"]:
        raise ChatError("signature_expired", _("The visitor identity has expired: reload the page you came from."), 403)
    return SignedIdentity(visitor_id=visitor_id, visitor_name=visitor_name, avatar=avatar, by_previous=by_previous)


def identity_secret_previous_live(enterprise: Enterprise, now: datetime | None = None) -> str:
    """The secret the enterprise's last rotation replaced while its grace lasts, else "": checked against the
    deadline here, at use time, so that it counts for nothing once the grace is over whether or not the
    chore that forgets it (chat.tenants) has run yet. No query: the fields are on the row."""
    previous, until = enterprise.identity_secret_previous, enterprise.identity_secret_previous_until
    if not previous or until is None or not enterprise.identity_secret:
        return ""
    return previous if (now or timezone.now()) < until else ""


@lru_cache(maxsize=1024)
def identity_fingerprint(secret: str) -> str:
    """What a visitor token records of the identity secret it was issued under: a keyed digest, so that a
    token says nothing of the secret; "" for no secret."""
    if not secret:
        return ""
    digest = hmac.new(settings.SECRET_KEY.encode(), b"gofly.identity-secret\n" + secret.encode(), hashlib.sha256)
    return digest.hexdigest()[:16]
