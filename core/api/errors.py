"""One error shape for the whole API: {"error": {"code", "message"}} with a real HTTP status."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core import health
from core.errors import ChatError


def error_body(code: str, message: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def unavailable_body(exc: Exception) -> dict[str, Any]:
    """The 503 body for the database or Redis being away: the client retries (an outbox entry stays);
    one log line per outage, nothing to trace."""
    health.failed(health.component_of(exc), exc)
    return error_body("unavailable", _("The chat is briefly unavailable; retry shortly."))


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ChatError):
        headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else None
        return Response(error_body(exc.code, exc.message), status=exc.status, headers=headers)
    if isinstance(exc, health.INFRASTRUCTURE_ERRORS):
        return Response(unavailable_body(exc), status=status.HTTP_503_SERVICE_UNAVAILABLE)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.APIException):
        code = exc.get_codes()
        message: Any = exc.detail
        if isinstance(message, dict) and "detail" in message and "code" in message:
            # simplejwt nests its own {"detail", "code", "messages"} inside the error.
            code, message = message["code"], message["detail"]
        elif isinstance(code, (dict, list)):
            code = "invalid"
        if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
            response.status_code = status.HTTP_401_UNAUTHORIZED
        response.data = error_body(str(code), message)
    return response
