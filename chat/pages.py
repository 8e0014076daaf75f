"""The visitor's page trail: the pages of the operator's site the widget reports, kept per visitor
(the newest PAGES_KEPT) and announced to the enterprise's agents after commit."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from core.errors import ChatError
from core.ratelimit import rate_limit

from . import frames
from .models import Visitor, VisitorPage
from .realtime.broadcast import publish_on_commit

PAGES_KEPT = 50
URL_MAX = 1000
TITLE_MAX = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _clean_url(url: Any) -> str:
    if not isinstance(url, str):
        raise ChatError("bad_url", _("The page address must be an http or https URL."))
    url = url.strip()
    if len(url) > URL_MAX:
        raise ChatError("too_large", _("The page address is limited to %(limit)d characters.") % {"limit": URL_MAX})
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.netloc or _CONTROL.search(url):
        raise ChatError("bad_url", _("The page address must be an http or https URL."))
    return url


def _clean_title(title: Any) -> str:
    if title is None:
        return ""
    if not isinstance(title, str):
        raise ChatError("bad_title", _("The page title must be a string."))
    title = " ".join(_CONTROL.sub(" ", title).split())
    if len(title) > TITLE_MAX:
        raise ChatError("too_large", _("The page title is limited to %(limit)d characters.") % {"limit": TITLE_MAX})
    return title


def visitor_page_record(*, visitor: Visitor, url: Any, title: Any) -> VisitorPage | None:
    """Store a page the visitor opened and tell the enterprise's agents (`visitor.page`, after commit).

    The same URL as the visitor's last page (a reload, a second tab on it) is no news: nothing is stored
    and None is answered. Input is refused with ChatError (bad_url, bad_title, too_large, rate_limited).
    """
    url = _clean_url(url)
    title = _clean_title(title)
    rate_limit(f"pages:{visitor.pk}", *settings.GOFLY["RATE_VISITOR_PAGES"])
    with transaction.atomic():
        recent = VisitorPage.objects.filter(visitor=visitor).order_by("-id")
        if recent.values_list("url", flat=True).first() == url:
            return None
        page = VisitorPage.objects.create(enterprise_id=visitor.enterprise_id, visitor=visitor, url=url, title=title)
        # Two queries rather than one DELETE with a LIMIT in a subquery, which MySQL refuses.
        oldest_kept = list(recent.values_list("id", flat=True)[PAGES_KEPT - 1 : PAGES_KEPT])
        if oldest_kept:
            VisitorPage.objects.filter(visitor=visitor, id__lt=oldest_kept[0]).delete()
        payload = frames.visitor_page_payload(page)
        publish_on_commit(
            [(frames.group_agents(visitor.enterprise_id), frames.visitor_page_frame(visitor.visitor_id, payload))]
        )
    return page


def visitor_pages(*, visitor: Visitor, limit: int = PAGES_KEPT) -> list[dict[str, Any]]:
    """The visitor's recent pages, newest first (the visitor comes from a tenant-scoped lookup)."""
    return [
        frames.visitor_page_payload(page)
        for page in VisitorPage.objects.filter(visitor=visitor).order_by("-id")[:limit]
    ]
