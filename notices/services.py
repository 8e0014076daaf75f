"""Writes of the notices app: an agent's e-mail alert setting."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import User
from core.errors import ChatError, forbidden

from .alerts import newest_message_id
from .models import AgentAlerts
from .selectors import alerts_payload

EMAIL_MAX = 254


def _language(value: object) -> str:
    codes = {code for code, _name in settings.LANGUAGES}
    if not isinstance(value, str) or value.lower() not in codes:
        raise ChatError("bad_language", _("Language must be one of: %(codes)s.") % {"codes": ", ".join(sorted(codes))})
    return value.lower()


def _email(value: object) -> str:
    if not isinstance(value, str) or len(value) > EMAIL_MAX:
        raise ChatError("bad_email", _("Enter a valid e-mail address."))
    value = value.strip()
    if value:
        try:
            validate_email(value)
        except ValidationError:
            raise ChatError("bad_email", _("Enter a valid e-mail address.")) from None
    return value


def alerts_settings_set(
    *, agent: User, email_enabled: object = None, email: object = None, language: object = None
) -> dict[str, Any]:
    """The agent turns their e-mail alerts on or off, sets the address (their account's e-mail) and the
    language of the mails. Turning them on starts from now: earlier messages are never mailed."""
    if email_enabled is not None and not isinstance(email_enabled, bool):
        raise ChatError("bad_email_enabled", _("email_enabled must be true or false."))
    address = _email(email) if email is not None else None
    lang = _language(language) if language is not None else None
    if agent.enterprise_id is None:
        raise forbidden()
    with transaction.atomic():
        row, _created = AgentAlerts.objects.select_for_update().get_or_create(
            agent=agent, defaults={"enterprise_id": agent.enterprise_id, "language": settings.LANGUAGE_CODE}
        )
        if address is not None and address != agent.email:
            User.objects.filter(pk=agent.pk).update(email=address)
            agent.email = address
        fields: dict[str, Any] = {}
        if lang is not None:
            fields["language"] = lang
        if email_enabled is not None and email_enabled != row.email_enabled:
            if email_enabled and not agent.email:
                raise ChatError("no_email", _("Enter your e-mail address first."))
            fields["email_enabled"] = email_enabled
            if email_enabled:
                fields.update(
                    alerted_up_to=newest_message_id(agent.enterprise_id),
                    failures=0,
                    next_attempt_at=None,
                    last_error="",
                )
        elif row.email_enabled and address == "":
            fields["email_enabled"] = False  # no address, no alerts
        if fields:
            AgentAlerts.objects.filter(pk=row.pk).update(**fields)
            for name, value in fields.items():
                setattr(row, name, value)
    return alerts_payload(agent=agent, row=row)
