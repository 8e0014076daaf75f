"""TEMPORARY stand-in until the permissions branch lands (h-perms replaces this file)."""

from __future__ import annotations

from django.utils.translation import gettext as _

TAKE = "chat.take_conversation"
TRANSFER = "chat.transfer_conversation"
CLOSE = "chat.close_conversation"
CLEAR_HISTORY = "chat.clear_visitor_history"
MANAGE_AGENTS = "enterprises.manage_agents"
MANAGE_SETTINGS = "enterprises.manage_settings"


def require(user, perm):  # type: ignore[no-untyped-def]
    from chat.errors import ChatError

    if not user.has_perm(perm):
        raise ChatError("forbidden", _("You may not do that."), 403)
