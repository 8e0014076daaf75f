"""Writes about enterprises: creation and the IP blacklist."""

from __future__ import annotations

from django.db import transaction

from .models import Enterprise, IPBlacklist


@transaction.atomic
def enterprise_create(*, name: str, welcome_text: str = "", offline_text: str = "") -> Enterprise:
    return Enterprise.objects.create(name=name, welcome_text=welcome_text, offline_text=offline_text)


@transaction.atomic
def ip_blacklist_add(*, enterprise: Enterprise, ip: str, reason: str = "") -> IPBlacklist:
    entry, _ = IPBlacklist.objects.get_or_create(enterprise=enterprise, ip=ip, defaults={"reason": reason})
    return entry
