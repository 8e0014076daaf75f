"""The client's address behind trusted proxies (TRUSTED_PROXIES), for HTTP requests and websockets."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from functools import lru_cache
from typing import Any

from django.conf import settings

# The address of the client whose request or socket is being served, for records that say who did
# something from where (the audit log) without every service taking it as an argument. Set by
# gofly_site.middleware.ClientAddressMiddleware (HTTP) and chat's socket middleware; None elsewhere
# (commands, chores).
current_address: ContextVar[str | None] = ContextVar("gofly_client_address", default=None)


@lru_cache(maxsize=1)
def _trusted_networks() -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(item, strict=False) for item in settings.TRUSTED_PROXIES)


def _is_trusted(ip: str) -> bool:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in network for network in _trusted_networks())


def _valid_ip(value: str) -> str | None:
    value = value.strip()
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def request_client_ip(meta: Mapping[str, Any]) -> str | None:
    """client_ip of an HTTP request, from its META."""
    return client_ip(meta.get("REMOTE_ADDR"), meta.get("HTTP_X_FORWARDED_FOR"), meta.get("HTTP_X_REAL_IP"))


def client_ip(peer: str | None, forwarded_for: str | None = None, real_ip: str | None = None) -> str | None:
    """The client's address: the peer itself unless the peer is a trusted proxy that tells us otherwise.

    X-Forwarded-For is walked from the right, skipping trusted proxies, so a client cannot
    smuggle an address in by sending the header itself.
    """
    peer_ip = _valid_ip(peer or "")
    if peer_ip is None or not _is_trusted(peer_ip):
        return peer_ip
    if forwarded_for:
        hops: Iterable[str] = reversed(forwarded_for.split(","))
        candidate = None
        for hop in hops:
            candidate = _valid_ip(hop)
            if candidate is None:
                break
            if not _is_trusted(candidate):
                return candidate
        if candidate:
            return candidate
    if real_ip:
        return _valid_ip(real_ip) or peer_ip
    return peer_ip
