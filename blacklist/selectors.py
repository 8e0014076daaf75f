"""Blacklists, the reads: the enterprise's blocks in force, and how the console and the API show one."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from accounts.models import User
from chat.access import live
from chat.models import VisitorBlock
from enterprises.models import IPBlacklist


def block_payload(block: VisitorBlock) -> dict[str, Any]:
    """A visitor block as the console and the API show it (the visitor must be loaded)."""
    return {
        "kind": "visitor",
        "id": block.visitor.visitor_id,
        "what": block.visitor.name,
        "reason": block.reason,
        "expires_at": block.expires_at.isoformat() if block.expires_at else None,
        "created_at": block.created_at.isoformat() if block.created_at else None,
        "created_by": block.created_by.username if block.created_by_id and block.created_by else None,
    }


def ip_entry_payload(entry: IPBlacklist, by: User | None = None) -> dict[str, Any]:
    creator = by if by is not None else (entry.created_by if entry.created_by_id else None)
    return {
        "kind": "ip",
        "id": str(entry.pk),
        "what": entry.network,
        "reason": entry.reason,
        "expires_at": entry.expires_at.isoformat() if entry.expires_at else None,
        "created_at": entry.created_at.isoformat() if entry.created_at else None,
        "created_by": creator.username if creator is not None else None,
    }


def blacklist_entries(*, enterprise_id: int, limit: int = 500) -> list[dict[str, Any]]:
    """The enterprise's blocks in force, newest first: visitors, then addresses; 2 queries."""
    now = timezone.now()
    visitors = (
        VisitorBlock.objects.filter(live(now), enterprise_id=enterprise_id)
        .select_related("visitor", "created_by")
        .order_by("-created_at")[:limit]
    )
    addresses = (
        IPBlacklist.objects.filter(live(now), enterprise_id=enterprise_id)
        .select_related("created_by")
        .order_by("-created_at")[:limit]
    )
    return [block_payload(b) for b in visitors] + [ip_entry_payload(e) for e in addresses]
