"""System announcements (公告): superadmins publish, edit and withdraw them; agents list theirs and mark them
read. Every change reaches the open consoles it concerns, on every process, after the commit."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from chat import frames as chat_frames
from chat.realtime.broadcast import publish_on_commit
from core.errors import ChatError, forbidden, not_found
from core.jsonin import row_id
from enterprises.models import Enterprise
from replies.sanitise import plain, sanitise

from . import frames
from .models import Announcement, AnnouncementRead

TITLE_MAX = 200
CONTENT_MAX = 20000
LISTED = 50  # the newest this many an agent is shown


def _superadmin_or_raise(user: User) -> None:
    if not (user.is_active and user.is_superuser):
        raise forbidden()


def _clean(title: object, content: object, expires_at: object) -> tuple[str, str, datetime | None]:
    if not isinstance(title, str) or not title.strip() or len(title) > TITLE_MAX:
        raise ChatError("invalid", _("Give the announcement a title of up to %(max)d characters.") % {"max": TITLE_MAX})
    if not isinstance(content, str) or len(content) > CONTENT_MAX:
        raise ChatError("invalid", _("The text may be up to %(max)d characters.") % {"max": CONTENT_MAX})
    clean = sanitise(content)
    if not plain(clean):
        raise ChatError("invalid", _("The announcement is empty once unsafe markup is removed."))
    if expires_at is not None and (not isinstance(expires_at, datetime) or expires_at <= timezone.now()):
        raise ChatError("invalid", _("An announcement must be shown until a moment in the future."))
    return title.strip(), clean, expires_at


def payload(announcement: Announcement, *, read: bool = False) -> dict[str, Any]:
    return {
        "id": announcement.pk,
        "title": announcement.title,
        "content": announcement.content,
        "published_at": announcement.published_at.isoformat(),
        "expires_at": announcement.expires_at.isoformat() if announcement.expires_at else None,
        "read": read,
    }


def _audience(enterprise_ids: Iterable[int]) -> list[int]:
    """The enterprises whose consoles hear of an announcement: the chosen ones, or every active one."""
    chosen = list(enterprise_ids)
    return chosen or list(Enterprise.objects.filter(is_active=True).values_list("pk", flat=True))


def _push(enterprise_ids: Iterable[int], frame: dict[str, Any]) -> None:
    publish_on_commit([(chat_frames.group_agents(pk), frame) for pk in _audience(enterprise_ids)])


@transaction.atomic
def announcement_save(
    *,
    author: User,
    title: object,
    content: object,
    expires_at: object = None,
    enterprise_ids: Iterable[int] = (),
    announcement_id: int | None = None,
) -> Announcement:
    """Publish (no `announcement_id`) or edit an announcement for the given enterprises (none: all). The
    consoles concerned get it at once; an edit that drops enterprises withdraws it from theirs."""
    _superadmin_or_raise(author)
    text, clean, until = _clean(title, content, expires_at)
    chosen = sorted(set(enterprise_ids))
    if len(chosen) != Enterprise.objects.filter(pk__in=chosen).count():
        raise not_found(_("Enterprise"))
    before: list[int] = []
    if announcement_id is None:
        announcement = Announcement.objects.create(title=text, content=clean, expires_at=until, created_by=author)
    else:
        found = Announcement.objects.select_for_update().filter(pk=announcement_id).first()
        if found is None:
            raise not_found(_("Announcement"))
        announcement = found
        before = _audience(announcement.enterprises.values_list("pk", flat=True))
        announcement.title, announcement.content, announcement.expires_at = text, clean, until
        announcement.save(update_fields=["title", "content", "expires_at"])
    announcement.enterprises.set(chosen)
    _push(chosen, frames.announcement_frame(payload(announcement)))
    dropped = set(before) - set(_audience(chosen))
    if dropped:
        _push(sorted(dropped), frames.announcement_withdrawn_frame(announcement.pk))
    return announcement


@transaction.atomic
def announcement_delete(*, author: User, announcement_id: int) -> None:
    """Withdraw an announcement from every console and delete it."""
    _superadmin_or_raise(author)
    announcement = Announcement.objects.filter(pk=announcement_id).first()
    if announcement is None:
        raise not_found(_("Announcement"))
    audience = list(announcement.enterprises.values_list("pk", flat=True))
    announcement.delete()
    _push(audience, frames.announcement_withdrawn_frame(announcement_id))


def _visible_to(agent: User) -> QuerySet[Announcement]:
    now = timezone.now()
    for_all = ~Exists(Announcement.enterprises.through.objects.filter(announcement_id=OuterRef("pk")))
    return Announcement.objects.filter(
        Q(expires_at=None) | Q(expires_at__gt=now),
        for_all | Q(enterprises=agent.enterprise_id),
        published_at__lte=now,
    ).distinct()


def announcements_of(*, agent: User) -> dict[str, Any]:
    """The announcements an agent is shown, newest first (at most LISTED), and how many they have not read."""
    if agent.enterprise_id is None:
        raise forbidden()
    read = AnnouncementRead.objects.filter(announcement_id=OuterRef("pk"), agent_id=agent.pk)
    rows = list(_visible_to(agent).annotate(seen=Exists(read)).order_by("-published_at", "-id")[:LISTED])
    items = [payload(row, read=bool(row.seen)) for row in rows]  # type: ignore[attr-defined]
    return {"announcements": items, "unread": sum(1 for item in items if not item["read"])}


def announcement_read(*, agent: User, announcement_id: object) -> None:
    """The agent has seen the announcement; another enterprise's or an expired one is not found."""
    if agent.enterprise_id is None:
        raise forbidden()
    pk = row_id(announcement_id) or -1
    if not _visible_to(agent).filter(pk=pk).exists():
        raise not_found(_("Announcement"))
    AnnouncementRead.objects.get_or_create(announcement_id=pk, agent_id=agent.pk)
