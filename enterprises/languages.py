"""Which of GoFly's languages a reader gets: the one they chose (a language cookie, the chat link's `lang`),
else the first of their browser's (Accept-Language) that GoFly speaks, else the platform's default language
(SystemConfig.default_language, set by superadmins in /admin)."""

from __future__ import annotations

import time

from django.conf import settings
from django.utils.translation import get_supported_language_variant
from django.utils.translation.trans_real import parse_accept_lang_header

from .selectors import system_config

_DEFAULT_FOR = 30.0  # seconds a process keeps the default language it read (like the system config's cache)
_default: tuple[float, str] | None = None


def language_supported(code: str | None) -> str | None:
    """`code` as one of settings.LANGUAGES ("zh-CN" -> "zh-hans", "en-GB" -> "en"), or None."""
    if not code or len(code) > 20:
        return None
    try:
        return get_supported_language_variant(code.strip().lower())
    except LookupError:
        return None


def language_accepted(header: str | None) -> str | None:
    """The first language of an Accept-Language header that GoFly speaks, in the header's order of
    preference; None for none (a "*" says nothing of which)."""
    for code, _quality in parse_accept_lang_header((header or "")[:500]):
        if code != "*" and (found := language_supported(code)):
            return found
    return None


def default_language(*, fetch: bool = True) -> str:
    """The platform's default language, read again at most every _DEFAULT_FOR seconds. With `fetch` False
    (on the event loop) the last one read, or settings.LANGUAGE_CODE before any: never a query."""
    global _default
    now = time.monotonic()
    if fetch and (_default is None or now - _default[0] > _DEFAULT_FOR):
        _default = (now, language_supported(system_config().default_language) or settings.LANGUAGE_CODE)
    return _default[1] if _default is not None else settings.LANGUAGE_CODE


def default_language_stale() -> bool:
    return _default is None or time.monotonic() - _default[0] > _DEFAULT_FOR


def default_language_forget() -> None:
    """The system config changed: the next reader reads the default language again."""
    global _default
    _default = None


def reader_language(*, chosen: str | None = None, accept: str | None = None, fetch: bool = True) -> str:
    """The language for a reader who chose `chosen` (may be empty or unknown) and whose browser sends
    `accept`."""
    return language_supported(chosen) or language_accepted(accept) or default_language(fetch=fetch)
