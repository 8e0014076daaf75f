"""What JSON GoFly accepts, decided once for websocket frames and HTTP bodies alike.

Text must be valid Unicode without NUL: MariaDB's utf8mb4 cannot store a lone UTF-16 surrogate (the whole
batched INSERT it is in fails), the channel layer and the socket cannot encode one, and NUL breaks
C-string consumers downstream. Nesting is limited, so that a `[[[[...` body is a clear refusal, not a
RecursionError deep in the parser or in whoever walks the value later.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.utils.translation import gettext as _

MAX_DEPTH = 20
# Integers the whole stack can carry: the channel layer's msgpack and the database's BIGINT stop at 64 bits.
MAX_INT = 2**63 - 1

# Only an escape can put a lone surrogate into a parsed str (the raw text came from valid UTF-8), and a raw
# NUL is refused by the JSON parser itself, so values need walking only when the text has such an escape.
# A false alarm (an escaped backslash before "u0000") only costs the walk.
_SUSPECT_ESCAPE = re.compile(r"\\u(?:0000|[dD][89abcdefABCDEF])")


class InputError(ValueError):
    """Input that breaks the rule above: `code` is `bad_text`, `too_deep` or `parse_error`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def text_error() -> InputError:
    return InputError("bad_text", _("Text must be valid Unicode without NUL characters."))


def depth_error(limit: int) -> InputError:
    return InputError("too_deep", _("JSON may be nested at most %(limit)d levels deep.") % {"limit": limit})


def text_ok(value: str) -> bool:
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate; a valid pair was joined into one code point by the parser
        return False
    return True


def check(value: Any, *, max_depth: int = MAX_DEPTH, text: bool = True) -> None:
    """Raise InputError if `value` (parsed JSON, or form data) nests deeper than `max_depth` or, with
    `text`, holds a string (keys included) that breaks the text rule."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if text and not text_ok(item):
                raise text_error()
        elif isinstance(item, dict | list | tuple):
            if depth >= max_depth:
                raise depth_error(max_depth)
            if isinstance(item, dict):
                for key, child in item.items():
                    stack.append((key, depth + 1))
                    stack.append((child, depth + 1))
            else:
                stack.extend((child, depth + 1) for child in item)


def loads(raw: str | bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """The parsed JSON value of `raw` (bytes must be UTF-8), or InputError saying what is wrong with it."""
    if isinstance(raw, bytes | bytearray):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise text_error() from None
    try:
        value = _DECODER.decode(raw)
    except RecursionError:  # deeper than the C parser goes: certainly deeper than our limit
        raise depth_error(max_depth) from None
    except ValueError:
        raise InputError("parse_error", _("The body is not valid JSON.")) from None
    # Cheap guards first, so that the usual small value is never walked: depth cannot exceed the number of
    # opening brackets, and only an escape can smuggle in bad text.
    deep = raw.count("[") + raw.count("{") > max_depth
    suspect = "\\u" in raw and _SUSPECT_ESCAPE.search(raw) is not None
    if deep or suspect:
        check(value, max_depth=max_depth, text=suspect)
    return value


def _refuse_constant(name: str) -> Any:
    # NaN and Infinity are not JSON; Python's parser accepts them, the database's JSON columns do not.
    raise ValueError(name)


# Built once: json.loads with any option builds a new decoder per call (a third of a small frame's parse).
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)


def row_id(value: object) -> int | None:
    """A row id as clients send it (a positive integer, or its digits as text: URLs and forms), or None for
    anything else (booleans, signs, spaces, exponents, past MAX_INT), which callers answer like a missing row."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 20:
        value = int(value)
    if isinstance(value, int) and 0 < value <= MAX_INT:
        return value
    return None
