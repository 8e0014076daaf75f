"""Writes about enterprises: creation and the IP blacklist."""

from __future__ import annotations

from django.db import transaction

from .models import Enterprise, IPBlacklist, ip_network_parse


@transaction.atomic
def enterprise_create(*, name: str, welcome_text: str = "", offline_text: str = "") -> Enterprise:
    return Enterprise.objects.create(name=name, welcome_text=welcome_text, offline_text=offline_text)


@transaction.atomic
def ip_blacklist_add(*, enterprise: Enterprise, ip: str, reason: str = "") -> IPBlacklist:
    """Blacklist an address or a CIDR network (ValueError if `ip` is neither); adding one twice is a no-op."""
    network = ip_network_parse(ip)[0]
    entry, _ = IPBlacklist.objects.get_or_create(enterprise=enterprise, network=network, defaults={"reason": reason})
    return entry
