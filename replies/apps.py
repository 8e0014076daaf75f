"""Application config for replies: canned replies, keyword auto-replies and welcome texts."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig


class RepliesConfig(AppConfig):
    name = "replies"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from chat import hooks

        from .autoreply import keyword_answers

        hooks.messages_stored.connect(keyword_answers)
        hooks.visitor_logged_in.connect(_login_welcomes)


def _login_welcomes(login: Any) -> dict[str, Any]:
    """chat.hooks.visitor_logged_in: the enterprise's welcome texts in the login answer."""
    from .selectors import welcomes_of

    return {"welcomes": welcomes_of(login.enterprise)}
