"""Which web origins may use an enterprise's chat: one rule for the visitor websocket, the visitor HTTP
API and who may frame the chat page (docs/protocol.md, "Origins")."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest
from django.http.request import validate_host

from .models import Enterprise

_DEFAULT_PORTS = {"http": 80, "https": 443}
# What may follow the scheme in an origin we accept: besides matching, the result is written into a CSP
# header, so nothing that could end a source expression (space, ";", ",", quotes) may pass.
_HOST = re.compile(r"^(?:[a-z0-9_-]+(?:\.[a-z0-9_-]+)*|\[[0-9a-f:.]+\])$")


def origin_normalize(value: str | None) -> str | None:
    """`scheme://host[:port]` as a browser sends it (lowercase, no default port, IDN as punycode), or None
    for anything that is not an http(s) origin (`null`, a path, credentials...)."""
    if not value:
        return None
    try:
        parts = urlsplit(value.strip())
        port = parts.port
        host = parts.hostname or ""
        if not host.isascii():
            host = host.encode("idna").decode("ascii")
    except (ValueError, UnicodeError):
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or parts.username is not None or parts.password is not None:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return None
    host = f"[{host}]" if ":" in host else host.rstrip(".")
    if not _HOST.match(host):
        return None
    return f"{scheme}://{host}" if port in (None, _DEFAULT_PORTS[scheme]) else f"{scheme}://{host}:{port}"


def served_here(origin: str) -> bool:
    """Whether the host of `origin` (normalised) is one this server answers to: in ALLOWED_HOSTS, as
    Django matches them (".example.com" holds its subdomains). A bare "*" vouches for no host: it
    would let a landing domain send visitors to any site."""
    host = urlsplit(origin).hostname or ""
    host = f"[{host}]" if ":" in host else host
    allowed = [pattern for pattern in settings.ALLOWED_HOSTS if pattern != "*"]
    if settings.DEBUG and not settings.ALLOWED_HOSTS:
        allowed = [".localhost", "127.0.0.1", "[::1]"]  # what Django itself admits then
    return bool(host) and validate_host(host, allowed)


def allowed_origins(enterprise: Enterprise) -> list[str]:
    """The enterprise's allowed origins, normalised, in the order written; lines that are no origin are
    skipped (the admin refuses them; older rows may hold some)."""
    found = (origin_normalize(line) for line in enterprise.allowed_origins.splitlines())
    return list(dict.fromkeys(origin for origin in found if origin))


def origin_allowed(enterprise: Enterprise, origin: str | None, own_origin: str | None) -> bool:
    """The rule. No Origin header: not a browser page, nothing to check. Our own origin (the chat page
    on our host) always. Otherwise an origin in the enterprise's list, when it has one."""
    if origin is None:
        return True
    allowed = allowed_origins(enterprise)
    if not allowed:
        return True
    normal = origin_normalize(origin)
    return normal is not None and (normal in allowed or normal == origin_normalize(own_origin))


def _secure_by_proxy(header_value: str | None) -> bool | None:
    """What SECURE_PROXY_SSL_HEADER says of a request (as Django's HttpRequest.scheme reads it), or None
    where it says nothing: the setting is off or the header is absent."""
    if not settings.SECURE_PROXY_SSL_HEADER or header_value is None:
        return None
    secure_value = settings.SECURE_PROXY_SSL_HEADER[1]
    return header_value.split(",", 1)[0].strip() == secure_value


def request_own_origin(request: HttpRequest) -> str | None:
    """The origin an HTTP request came to; its scheme honours SECURE_PROXY_SSL_HEADER."""
    try:
        return f"{request.scheme}://{request.get_host()}"
    except DisallowedHost:
        return None


def request_origin_allowed(enterprise: Enterprise, request: HttpRequest) -> bool:
    return origin_allowed(enterprise, request.headers.get("Origin"), request_own_origin(request))


def socket_origin_allowed(enterprise: Enterprise, scope: dict[str, Any]) -> bool:
    """The rule for a websocket, whose own origin is its Host with the scheme of the page that opened it."""
    headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope.get("headers", [])}
    secure = scope.get("scheme") in ("wss", "https")
    if settings.SECURE_PROXY_SSL_HEADER:
        header = settings.SECURE_PROXY_SSL_HEADER[0].removeprefix("HTTP_").replace("_", "-").lower()
        by_proxy = _secure_by_proxy(headers.get(header))
        if by_proxy is not None:
            secure = by_proxy
    host = headers.get("host")
    own = f"{'https' if secure else 'http'}://{host}" if host else None
    return origin_allowed(enterprise, headers.get("origin"), own)


def frame_ancestors(enterprise: Enterprise) -> str:
    """The CSP directive for the chat page: our own pages, plus the enterprise's sites when it lists them;
    anyone when it lists none (the widget runs on any site)."""
    allowed = allowed_origins(enterprise)
    return "frame-ancestors " + (" ".join(["'self'", *allowed]) if allowed else "*")


def landing_redirect(request: HttpRequest, enterprise: Enterprise) -> str | None:
    """Where the chat page of `enterprise` should be fetched instead: the same path and query on its landing
    domain, when it has one and the request came to another host; None when it is already there.

    Hosts (with their port) are compared, not schemes: behind a TLS proxy that does not say so, the scheme
    a request seems to come with is not the browser's, and comparing it would redirect for ever."""
    landing = origin_normalize(enterprise.landing_domain)
    if landing is None or not served_here(landing):  # a row from before the rule, or hosts changed since
        return None
    try:
        here = origin_normalize(f"{request.scheme}://{request.get_host()}")
    except DisallowedHost:
        here = None
    if here is not None and urlsplit(here).netloc == urlsplit(landing).netloc:
        return None
    return landing + request.get_full_path()
