"""The one error type services raise for input they refuse; views and consumers turn it into answers."""

from __future__ import annotations

from django.utils.translation import gettext as _


class ChatError(Exception):
    """A refusal with a stable machine code, a human message and the HTTP status it maps to; `retry_after`
    (seconds) where the caller may simply try again later (HTTP answers carry it as Retry-After)."""

    def __init__(self, code: str, message: str, status: int = 400, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.retry_after = retry_after


def not_found(what: str) -> ChatError:
    """`what` comes translated. "Not found" and "not yours" answer the same: other tenants' ids can't be probed."""
    return ChatError("not_found", _("%(what)s not found.") % {"what": what}, 404)


def forbidden() -> ChatError:
    """The user is who they say, but their role (or lack of an enterprise) does not allow the action."""
    return ChatError("forbidden", _("Your role does not allow this."), 403)


def forbidden_origin() -> ChatError:
    """A browser page on a site the enterprise has not listed (docs/protocol.md, "Origins")."""
    return ChatError("forbidden_origin", _("This site may not open the chat."), 403)
