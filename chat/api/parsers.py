"""The JSON parser of the whole API: the text and depth rule of chat/jsonin.py, with its error codes."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.parsers import JSONParser

from chat import jsonin


class GoflyJSONParser(JSONParser):
    """DRF's JSONParser lets a RecursionError (a `[[[[...` body) through as a 500 and accepts lone
    surrogates and NUL; this one refuses them with the same codes as the websocket."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            return jsonin.loads(stream.read() if stream is not None else b"")
        except jsonin.InputError as exc:
            raise exceptions.ParseError(exc.message, code=exc.code) from None
