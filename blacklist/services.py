"""Blacklists, the writes: blocking a visitor (by id) or an address (IP or CIDR network) with a reason and
an expiry, and lifting a block. A block closes the sockets it turns away (after the commit, on every
process) and the live conversations of the visitors it names, with a timeline line saying who blocked
them, so that the agent's slot goes to the next visitor in the queue.

The tables stay beside what they guard: `chat.VisitorBlock` is read with the visitor on arrival (one LEFT
JOIN), `enterprises.IPBlacklist` with the enterprise at login and in the socket batch's one range query;
chat.access is the gate that reads them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from accounts import permissions
from accounts.models import User
from chat import frames
from chat.access import access_visitor
from chat.models import VisitorBlock
from chat.realtime.broadcast import events_publish_on_commit
from chat.services import conversations_close_blocked
from core.errors import ChatError, forbidden, not_found
from core.jsonin import row_id
from enterprises.audit import audit_record
from enterprises.models import (
    AuditAction,
    IPBlacklist,
    ip_network_is_everything,
    ip_network_of,
    ip_network_parse,
    ip_network_prefix,
    whole_address_space_error,
)

from .selectors import block_payload, ip_entry_payload

# What the console offers; the API also takes any future ISO 8601 datetime.
DURATIONS: dict[str, timedelta | None] = {
    "1h": timedelta(hours=1),
    "1d": timedelta(days=1),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "forever": None,
}
WHAT = ("visitor", "ip", "network")
# The furthest expiry a date may set; beyond it, "forever" says what is meant, and shown in any time zone
# the date still exists.
_EXPIRY_MAX = timedelta(days=100 * 365)
_REASON_MAX = 200
_NETWORK_MAX = 43


def expiry_parse(value: object) -> datetime | None:
    """A duration of DURATIONS (from now) or a future ISO 8601 datetime; None (or "forever"): no expiry."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and value in DURATIONS:
        span = DURATIONS[value]
        return None if span is None else timezone.now() + span
    moment = _moment(value)
    now = timezone.now()
    if moment is None or moment <= now or moment > now + _EXPIRY_MAX:
        raise ChatError(
            "invalid",
            _("Block until one of 1h, 1d, 7d, 30d, forever, or a date and time (ISO 8601) in the next %(years)d years.")
            % {"years": _EXPIRY_MAX.days // 365},
        )
    return moment


def _moment(value: object) -> datetime | None:
    """An ISO 8601 datetime as an aware UTC datetime, or None for anything else: a day that does not exist
    (2999-02-30) and an offset that pushes it past year 9999 (9999-12-31T23:59:59-14:00) included."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        moment = parse_datetime(value)
        if moment is None:
            return None
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment)
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _reason(value: object) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > _REASON_MAX:
        raise ChatError("invalid", _("The reason must be text of at most %(max)d characters.") % {"max": _REASON_MAX})
    return value.strip()


def _network_of(ip: str, what: str) -> str:
    if what == "ip":
        return ip
    network = ip_network_of(ip, 24, 64)
    if network is None:
        raise ChatError("invalid", _("This visitor's address is unknown."))
    return network


def visitor_block(
    *, agent: User, visitor_id: object, what: object = "visitor", reason: object = "", until: object = None
) -> dict[str, Any]:
    """Block one of the agent's enterprise's visitors, their IP or their network (/24, /64 for IPv6).

    Blocking again replaces the reason and the expiry. Its sockets close with 4403 after the commit, and
    the live conversations of the visitors it turns away are closed ("blocked" on the timeline).
    """
    permissions.require(agent, permissions.BLOCK)
    if what not in WHAT:
        raise ChatError("invalid", _("Block one of: visitor, ip, network."))
    visitor = access_visitor(agent=agent, visitor_id=visitor_id)
    text, expires_at = _reason(reason), expiry_parse(until)
    if what == "visitor":
        with transaction.atomic():
            block, _created = VisitorBlock.objects.update_or_create(
                visitor=visitor,
                defaults={
                    "enterprise_id": visitor.enterprise_id,
                    "reason": text,
                    "expires_at": expires_at,
                    "created_by": agent,
                },
            )
            events_publish_on_commit([(frames.group_visitor(visitor.pk), frames.visitor_blocked_event())])
            conversations_close_blocked(agent=agent, visitor_pk=visitor.pk)
            _audit(
                agent,
                AuditAction.BLOCK_ADDED,
                "visitor",
                visitor.visitor_id,
                visitor.real_name or visitor.name,
                text,
                expires_at,
            )
        block.visitor = visitor
        return block_payload(block)
    if not visitor.ip:
        raise ChatError("invalid", _("This visitor's address is unknown."))
    return _address_block(agent=agent, network=_network_of(visitor.ip, str(what)), reason=text, expires_at=expires_at)


def ip_block(*, agent: User, network: object, reason: object = "", until: object = None) -> dict[str, Any]:
    """Block an address or a CIDR network (IPv4 or IPv6) for the agent's enterprise."""
    permissions.require(agent, permissions.BLOCK)
    if not isinstance(network, str) or not 0 < len(network) <= _NETWORK_MAX:
        raise ChatError("invalid", _("Enter an IP address (203.0.113.7) or a network (203.0.113.0/24)."))
    try:
        ip_network_parse(network)
    except ValueError:
        raise ChatError("invalid", _("Enter an IP address (203.0.113.7) or a network (203.0.113.0/24).")) from None
    return _address_block(agent=agent, network=network, reason=_reason(reason), expires_at=expiry_parse(until))


def _width_allowed(agent: User, shown: str) -> None:
    """The whole address space is never blocked; a network wider than GOFLY_BLOCK_PREFIX_V4 (/16) or
    GOFLY_BLOCK_PREFIX_V6 (/32) only by someone who may change the enterprise's settings: one plain
    agent must not be able to turn every visitor away."""
    if ip_network_is_everything(shown):
        raise ChatError("too_wide", str(whole_address_space_error().message))
    version, prefix = ip_network_prefix(shown)
    narrowest = settings.GOFLY["BLOCK_PREFIX_V4" if version == 4 else "BLOCK_PREFIX_V6"]
    if prefix < narrowest and not agent.has_perm(permissions.MANAGE_SETTINGS):
        raise ChatError(
            "forbidden",
            _("Only an enterprise admin may block a network wider than /%(prefix)d.") % {"prefix": narrowest},
            403,
        )


def _address_block(*, agent: User, network: str, reason: str, expires_at: datetime | None) -> dict[str, Any]:
    enterprise_id = agent.enterprise_id
    if enterprise_id is None:
        raise forbidden()
    shown, start, end = ip_network_parse(network)
    _width_allowed(agent, shown)
    with transaction.atomic():
        entry, _created = IPBlacklist.objects.update_or_create(
            enterprise_id=enterprise_id,
            network=shown,
            defaults={"reason": reason, "expires_at": expires_at, "created_by": agent},
        )
        # Every visitor socket of the enterprise hears it and checks its own address.
        events_publish_on_commit([(frames.group_visitors(enterprise_id), frames.visitor_blocked_event(start, end))])
        conversations_close_blocked(agent=agent, ip_range=(start, end))
        _audit(agent, AuditAction.BLOCK_ADDED, "address", entry.pk, shown, reason, expires_at)
    return ip_entry_payload(entry, agent)


def _audit(
    agent: User, action: AuditAction, kind: str, target_id: object, name: str, reason: str = "", until: Any = None
) -> None:
    details = (
        {"reason": reason, "until": until.isoformat() if until else None} if action == AuditAction.BLOCK_ADDED else {}
    )
    audit_record(action=action, actor=agent, target_type=kind, target_id=target_id, target_name=name, details=details)


def blacklist_remove(*, agent: User, kind: object, entry_id: object) -> None:
    """Lift a block of the agent's enterprise: `kind` "visitor" (entry_id: the visitor's public id) or
    "ip" (entry_id: the entry's id). Not found, or another enterprise's, answers 404 alike."""
    permissions.require(agent, permissions.BLOCK)
    with transaction.atomic():
        if kind == "visitor":
            visitor = access_visitor(agent=agent, visitor_id=entry_id)
            deleted, _rows = VisitorBlock.objects.filter(visitor=visitor).delete()
            if deleted:
                _audit(
                    agent, AuditAction.BLOCK_LIFTED, "visitor", visitor.visitor_id, visitor.real_name or visitor.name
                )
        elif kind == "ip":
            pk = row_id(entry_id)
            entry = None
            if pk is not None and agent.enterprise_id is not None:
                entry = IPBlacklist.objects.filter(pk=pk, enterprise_id=agent.enterprise_id).first()
            deleted = entry.delete()[0] if entry is not None else 0
            if entry is not None:
                _audit(agent, AuditAction.BLOCK_LIFTED, "address", pk, entry.network)
        else:
            deleted = 0
    if not deleted:
        raise not_found(_("Block"))
