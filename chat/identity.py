"""Visitor tokens and the client IP behind trusted proxies."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.core import signing

_SALT = "gofly.visitor-token.v1"


@dataclass(frozen=True)
class VisitorClaim:
    visitor_pk: int
    enterprise_id: int


def visitor_token_issue(*, visitor_pk: int, enterprise_id: int) -> str:
    return signing.dumps({"v": visitor_pk, "e": enterprise_id}, salt=_SALT, compress=False)


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
    return VisitorClaim(visitor_pk=data["v"], enterprise_id=data["e"])


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
