"""Header-only middleware (Django's, and django-csp's), run on the event loop instead of a thread hop per hook.

Under ASGI Django runs each hook of a sync middleware through `sync_to_async` on the one thread that all
sync code shares: with our list, 14 hops per request, a fifth of a visitor login's CPU (bench/README.md).
The hooks of these classes only read the request and set response headers (no database, no blocking
I/O), so they run inline. Session and message middleware may write the session at the end of a
request and keep Django's hop.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from csp import middleware as csp
from django.conf import settings
from django.contrib.auth import middleware as auth
from django.http import HttpRequest, HttpResponseBase
from django.middleware import clickjacking, common, csrf, locale, security
from django.utils import translation
from django.utils.deprecation import MiddlewareMixin

from core.clientip import current_address, request_client_ip
from enterprises.languages import default_language, default_language_stale, language_accepted, language_supported


class _Inline:
    """For a MiddlewareMixin subclass: the async path calls its hooks directly."""

    get_response: Any

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        response = None
        if hasattr(self, "process_request"):
            response = self.process_request(request)
        response = response or await self.get_response(request)
        if hasattr(self, "process_response"):
            response = self.process_response(request, response)
        return response  # type: ignore[no-any-return]


class SecurityMiddleware(_Inline, security.SecurityMiddleware):
    pass


class LocaleMiddleware(_Inline, locale.LocaleMiddleware):
    """Django's, with the platform's default language (SystemConfig) for a reader who asks for none of
    GoFly's languages, neither by cookie nor by browser. On the event loop the default is read through one
    thread hop when this process's copy is older than its 30 s, never by a query on the loop."""

    def process_request(self, request: HttpRequest) -> None:
        super().process_request(request)
        cookie = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        if language_supported(cookie) or language_accepted(request.META.get("HTTP_ACCEPT_LANGUAGE")):
            return
        language = default_language(fetch=not getattr(request, "_on_loop", False))
        if language != request.LANGUAGE_CODE:
            translation.activate(language)
            request.LANGUAGE_CODE = language

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        if default_language_stale():
            await sync_to_async(default_language)()
        request._on_loop = True  # type: ignore[attr-defined]
        return await super().__acall__(request)


class CommonMiddleware(_Inline, common.CommonMiddleware):
    pass


class CsrfViewMiddleware(_Inline, csrf.CsrfViewMiddleware):
    async def process_view(self, request: HttpRequest, *args: Any) -> HttpResponseBase | None:  # type: ignore[override]
        # Django hops for a sync process_view too; the check reads only cookies, headers and the form.
        return super().process_view(request, *args)


class AuthenticationMiddleware(_Inline, auth.AuthenticationMiddleware):
    pass  # request.user is lazy: the session and user are read where the view asks for them


class XFrameOptionsMiddleware(_Inline, clickjacking.XFrameOptionsMiddleware):
    pass


class CSPMiddleware(_Inline, csp.CSPMiddleware):
    pass  # django-csp's hooks set a lazy nonce and a header


class ClientAddressMiddleware(_Inline, MiddlewareMixin):
    """Names the client's address (core.clientip.current_address) for the request's audit records."""

    def process_request(self, request: HttpRequest) -> None:
        request._address_token = current_address.set(request_client_ip(request.META))  # type: ignore[attr-defined]

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        token = getattr(request, "_address_token", None)
        if token is not None:
            current_address.reset(token)
        return response
