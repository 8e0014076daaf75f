"""Checks every app shares: origins compared whole, and URLs that are safe to put in an `img src`."""

from __future__ import annotations

import re
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

_DEFAULT_PORTS = {"http": 80, "https": 443}


class Origin(NamedTuple):
    scheme: str
    host: str  # lowercase; an IPv6 address without brackets; may start with "*." in a trusted pattern
    port: int  # the scheme's default port when none was written


def origin_parse(value: str | None) -> Origin | None:
    """An http(s) origin, normalised; None for anything else ("null", a path, a user, a bad port)."""
    if not value:
        return None
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if (
        scheme not in _DEFAULT_PORTS
        or not parts.hostname
        or "@" in parts.netloc
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
    ):
        return None
    return Origin(scheme, parts.hostname, port if port is not None else _DEFAULT_PORTS[scheme])


def _matches(origin: Origin, allowed: Origin) -> bool:
    if allowed.host.startswith("*."):  # CSRF_TRUSTED_ORIGINS' subdomain pattern
        return (origin.scheme, origin.port) == (allowed.scheme, allowed.port) and origin.host.endswith(allowed.host[1:])
    return origin == allowed


def _request_secure(scope: dict[str, Any]) -> bool:
    """Like Django's request.is_secure(): the proxy's X-Forwarded-Proto counts only when configured."""
    header = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if header:
        name, secure_value = header
        wanted = name.removeprefix("HTTP_").replace("_", "-").lower().encode("latin-1")
        for key, value in scope.get("headers", []):
            if key.lower() == wanted:
                return bool(value.decode("latin-1").split(",", 1)[0].strip() == secure_value)
    return scope.get("scheme") in ("wss", "https")


def console_origin_allowed(origin: str, scope: dict[str, Any]) -> bool:
    """Whether a websocket with this Origin may use the session cookie: only from the console's own origin
    (the scheme and Host the socket came to) or an origin in CSRF_TRUSTED_ORIGINS, compared whole."""
    parsed = origin_parse(origin)
    if parsed is None:
        return False
    host = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k.lower() == b"host"), "")
    own = origin_parse(f"{'https' if _request_secure(scope) else 'http'}://{host}") if host else None
    if own is not None and parsed == own:
        return True
    trusted = (origin_parse(entry) for entry in settings.CSRF_TRUSTED_ORIGINS)
    return any(allowed is not None and _matches(parsed, allowed) for allowed in trusted)


# --- avatar URLs -------------------------------------------------------------------------------------

AVATAR_MAX_LENGTH = 300
# An absolute http(s) URL or a path of ours; nothing that could end an attribute or start markup.
_SAFE_AVATAR = re.compile(r"^(https?://[^\s\"'<>\\`]+|/(static|media)/[^\s\"'<>\\`]*)$", re.IGNORECASE)


def avatar_url_safe(value: Any) -> bool:
    """Whether `value` may be rendered as an image URL (`javascript:`, `data:` and markup may not)."""
    return (
        isinstance(value, str)
        and len(value) <= AVATAR_MAX_LENGTH
        and _SAFE_AVATAR.match(value) is not None
        and not (value.startswith("/") and ".." in value)  # our paths stay under /static/ or /media/
    )


def avatar_or(value: Any, default: str) -> str:
    """`value` when it is a safe avatar URL, else `default`: what every payload emits."""
    return value if avatar_url_safe(value) else default


def validate_avatar_url(value: str) -> None:
    """Model validator (admin, forms): the same rule the payloads apply."""
    if value and not avatar_url_safe(value):
        raise ValidationError(
            _("Enter an http(s) URL or a path under /static/ or /media/, without quotes, spaces or angle brackets."),
            code="invalid_avatar",
        )
