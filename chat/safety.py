"""Checks every app shares: origins compared whole."""

from __future__ import annotations

from typing import Any, NamedTuple
from urllib.parse import urlsplit

from django.conf import settings

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
