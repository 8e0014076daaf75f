"""GET /api/v1/widget: what the floating widget's launcher shows before its chat iframe exists (whether
the host site may run it, agents online, the agent's name and avatar, the welcome text)."""

from __future__ import annotations

import html
import re
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import translation
from django.utils.html import strip_tags
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from chat import hooks, services
from chat.access import address_blocked_error, agent_by_kefu_id
from core import health
from core.api.errors import error_body, unavailable_body
from core.api.schema import described_by, errors
from core.clientip import request_client_ip
from core.errors import ChatError, not_found
from core.ratelimit import rate_limit
from enterprises import origins
from enterprises.models import Enterprise
from enterprises.selectors import enterprise_for_visitor

from .openapi import WidgetStateSerializer

# Short: the answer says who is online now. Varies with Origin, which decides `allowed`.
CACHE_CONTROL = "public, max-age=10"
_ENT_ID = re.compile(r"^[0-9]{1,18}$")
_BREAKS = re.compile(r"<br\s*/?>|</(?:p|div|li)>", re.I)


def _cors(response: HttpResponse) -> HttpResponse:
    # Any site may ask (the widget runs on the operator's pages); no cookie is read or sent.
    response["Access-Control-Allow-Origin"] = "*"
    response["Vary"] = "Origin"
    return response


def _error(code: str, message: Any, status: int) -> HttpResponse:
    response = _cors(JsonResponse(error_body(code, message), status=status))
    response["Cache-Control"] = "no-store"
    return response


def plain_text(value: str) -> str:
    """The enterprise's (sanitised, possibly rich) text as the launcher's bubble shows it: plain text."""
    text = html.unescape(strip_tags(_BREAKS.sub("\n", value or "")))
    return "\n".join(" ".join(line.split()) for line in text.splitlines()).strip()


def _absolute(request: HttpRequest, url: str) -> str:
    return url if url.startswith(("http://", "https://")) else request.build_absolute_uri(url)


def _lookup(ent_id: str, kefu_id: str, ip: str | None) -> tuple[Enterprise, User | None]:
    rate_limit(f"widget:{ip}", *settings.GOFLY["RATE_WIDGET_PER_IP"])
    agent = None
    if not ent_id:
        # The newer loader's snippet may name only the agent (usernames are unique), as /chatIndex allows.
        agent = agent_by_kefu_id(kefu_id)
        ent_id = str(agent.enterprise_id) if agent else ""
    enterprise, blacklisted = enterprise_for_visitor(ent_id, ip) if ent_id else (None, False)
    if enterprise is None:
        raise not_found(_("Enterprise"))
    if blacklisted:  # the loader shows no launcher: the login would refuse this address anyway
        raise address_blocked_error()
    if kefu_id and agent is None:
        agent = agent_by_kefu_id(kefu_id, enterprise_id=enterprise.pk)
        if agent is None:
            raise not_found(_("Agent"))
    return enterprise, agent


# widget_state is an async Django view: this class describes it in the OpenAPI document and is never routed.
class WidgetDescription(APIView):
    """What the floating widget's launcher shows before its chat exists (docs/protocol.md, 5.15); any origin
    may ask (`Access-Control-Allow-Origin: *`), without credentials."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="widget_state",
        parameters=[
            OpenApiParameter("ent_id", str, description="The enterprise id (digits); or `kefu_id` alone."),
            OpenApiParameter("kefu_id", str, description="An agent's username: their name, avatar and presence."),
        ],
        responses={
            200: WidgetStateSerializer,
            **errors(
                {
                    400: "`invalid`: neither `ent_id` nor `kefu_id`, or a malformed one",
                    403: "`blacklisted`: the client's address is on the enterprise's blacklist",
                    404: "`not_found`: no such active enterprise or agent",
                    405: "`method_not_allowed`",
                    429: "`rate_limited`: per client IP",
                }
            ),
        },
    )
    def get(self, request: Request) -> Response:
        raise NotImplementedError("never routed: widget_state answers")


@described_by(WidgetDescription)
async def widget_state(request: HttpRequest) -> HttpResponse:
    """GET /api/v1/widget?ent_id=&kefu_id= (docs/protocol.md 5.14)."""
    if request.method == "OPTIONS":
        response = _cors(HttpResponse(status=204))
        response["Access-Control-Allow-Methods"] = "GET"
        response["Access-Control-Max-Age"] = "86400"
        return response
    if request.method not in ("GET", "HEAD"):
        return _error("method_not_allowed", _("Use GET."), 405)
    ent_id = request.GET.get("ent_id", "").strip()
    kefu_id = request.GET.get("kefu_id", "").strip()
    problems: dict[str, list[str]] = {}
    if ent_id and not _ENT_ID.match(ent_id):
        problems["ent_id"] = [_("Enter the enterprise id: digits only.")]
    if len(kefu_id) > 150 or "\x00" in kefu_id:
        problems["kefu_id"] = [_("Enter an agent username of at most 150 characters.")]
    if not ent_id and not kefu_id:
        problems["ent_id"] = [_("This field is required.")]
    if problems:
        return _error("invalid", problems, 400)
    ip = request_client_ip(request.META)
    try:
        enterprise, agent = await database_sync_to_async(_lookup, thread_sensitive=False)(ent_id, kefu_id, ip)
    except ChatError as exc:
        return _error(exc.code, exc.message, exc.status)
    except health.INFRASTRUCTURE_ERRORS as exc:
        return _cors(JsonResponse(unavailable_body(exc), status=503))
    origin = request.headers.get("Origin")
    if not origins.request_origin_allowed(enterprise, request):
        # Only what the operator needs to fix it: the origin, normalised as it would have to be listed.
        body: dict[str, Any] = {"allowed": False, "origin": origins.origin_normalize(origin) or origin}
    else:
        online = await services.agents_serving(enterprise.pk)  # an away agent is no one to wait for
        language = translation.get_language() or settings.LANGUAGE_CODE  # GOFLY_LANG, else the browser's
        welcome = await database_sync_to_async(hooks.welcome_of, thread_sensitive=False)(enterprise, language)
        body = {
            "allowed": True,
            "enterprise": {"id": enterprise.pk, "name": enterprise.name},
            "online": bool(online),
            "agents_online": len(online),
            "agent": {
                "name": agent.display_name,
                "avatar": _absolute(request, agent.avatar_url),
                "online": agent.pk in online,
            }
            if agent is not None
            else None,
            "welcome": plain_text(welcome),
            "offline_text": plain_text(enterprise.offline_text_in(language)),
        }
    response = _cors(JsonResponse(body))
    response["Cache-Control"] = CACHE_CONTROL
    return response
