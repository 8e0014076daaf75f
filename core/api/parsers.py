"""The JSON parser of the whole API: the text and depth rule of core/jsonin.py, with its error codes."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status
from rest_framework.parsers import JSONParser

from core import jsonin


class BodyTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = _("The body is too large.")
    default_code = "too_large"


class GoflyJSONParser(JSONParser):
    """DRF's JSONParser lets a RecursionError (a `[[[[...` body) through as a 500, accepts lone surrogates
    and NUL, and reads a body of any size; this one refuses them with the same codes as the websocket."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        # DRF hands over the raw request stream, which Django's DATA_UPLOAD_MAX_MEMORY_SIZE does not guard.
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read(limit + 1 if limit is not None else -1) if stream is not None else b""
        if limit is not None and len(raw) > limit:
            raise BodyTooLarge()
        try:
            return jsonin.loads(raw)
        except jsonin.InputError as exc:
            raise exceptions.ParseError(exc.message, code=exc.code) from None
