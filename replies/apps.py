"""Application config for replies: canned replies, keyword auto-replies and welcome texts."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RepliesConfig(AppConfig):
    name = "replies"
    verbose_name = _("Replies")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from chat import hooks

        from .autoreply import keyword_answers

        hooks.messages_stored.connect(keyword_answers)
        hooks.visitor_logged_in.connect(_login_welcomes)
        hooks.enterprise_welcome.connect(_first_welcome)


def _login_welcomes(login: Any) -> dict[str, Any]:
    """chat.hooks.visitor_logged_in: the enterprise's welcome texts in the login answer, and the first as
    `welcome` for older pages."""
    from .selectors import welcomes_of

    welcomes = welcomes_of(login.enterprise, login.language)
    return {"welcomes": welcomes, "welcome": welcomes[0] if welcomes else ""}


def _first_welcome(asked: Any) -> str:
    """chat.hooks.enterprise_welcome: the first of the enterprise's welcome texts in the reader's language
    ("" for none)."""
    from .selectors import welcomes_of

    welcomes = welcomes_of(asked.enterprise, asked.language)
    return welcomes[0] if welcomes else ""
