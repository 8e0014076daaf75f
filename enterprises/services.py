"""Writes about enterprises: creation and the settings enterprise admins change (blocks: blacklist.services)."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from core.errors import ChatError

from .models import Enterprise
from .origins import origin_normalize, served_here


@transaction.atomic
def enterprise_create(*, name: str, offline_text: str = "") -> Enterprise:
    """A new enterprise. Its welcome texts are replies' WelcomeText rows (replies.services.welcome_text_seed)."""
    return Enterprise.objects.create(name=name, offline_text=offline_text)


def landing_domain_error() -> str:
    """Why a landing domain is refused, in the reader's language."""
    return _("Enter an origin such as https://chat.example.com (no path).")


def landing_domain_clean(value: object) -> str:
    """A landing domain as stored: a normalised origin on one of this server's hosts, or "" for none;
    ChatError `invalid` otherwise."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return ""
    normal = origin_normalize(value) if isinstance(value, str) and len(value) <= 200 else None
    if normal is None:
        raise ChatError("invalid", landing_domain_error())
    if not served_here(normal):
        raise ChatError(
            "invalid",
            _("%(value)s is not one of this server's hosts (ALLOWED_HOSTS): the landing domain must reach GoFly.")
            % {"value": normal},
        )
    return normal


def enterprise_landing_domain_set(*, enterprise_id: int, landing_domain: object) -> str:
    """Set (or clear, with "") the origin the enterprise's visitor chat pages are redirected to; the caller
    has checked that its user may change the enterprise's settings."""
    value = landing_domain_clean(landing_domain)
    with transaction.atomic():
        Enterprise.objects.filter(pk=enterprise_id).update(landing_domain=value)
    return value
