"""The visitor and agent HTTP API (/api/v1/...), documented in docs/protocol.md."""

from __future__ import annotations

from typing import Any, cast

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from accounts.selectors import agent_payload
from chat import frames, health, jsonin, selectors, services
from chat.errors import ChatError, forbidden_origin, not_found
from chat.identity import client_ip
from chat.models import Message, Visitor
from chat.presence import AGENT, VISITOR, get_presence
from chat.safety import avatar_or
from enterprises import origins

from .auth import IsAgent, IsVisitor, VisitorTokenAuthentication
from .errors import error_body, unavailable_body


async def _online_now(enterprise_id: int, kind: str) -> set[int]:
    """Who is online; nobody, as far as this answer goes, while Redis is away (presence lives there)."""
    try:
        return await get_presence().online(enterprise_id, kind)
    except health.INFRASTRUCTURE_ERRORS as exc:
        health.failed(health.REDIS, exc)
        return set()


def _online(enterprise_id: int, kind: str) -> set[int]:
    return async_to_sync(_online_now)(enterprise_id, kind)


class VisitorLoginSerializer(serializers.Serializer):
    ent_id = serializers.CharField(max_length=20)
    kefu_id = serializers.CharField(max_length=150, required=False, allow_blank=True)
    token = serializers.CharField(max_length=512, required=False, allow_blank=True)
    visitor_id = serializers.CharField(max_length=64, required=False, allow_blank=True)
    visitor_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    avatar = serializers.CharField(max_length=300, required=False, allow_blank=True)
    refer = serializers.CharField(max_length=1000, required=False, allow_blank=True)
    landing_page = serializers.CharField(max_length=1000, required=False, allow_blank=True)
    extra = serializers.JSONField(required=False)


class PageSerializer(serializers.Serializer):
    before = serializers.IntegerField(min_value=1, max_value=jsonin.MAX_INT, required=False)
    limit = serializers.IntegerField(min_value=1, max_value=100, default=20)


class SendSerializer(serializers.Serializer):
    client_id = serializers.CharField(max_length=64)
    # The length limit is the service's, so HTTP and websocket answer it alike (413 too_large).
    content = serializers.CharField(trim_whitespace=False, allow_blank=True)


class ReadSerializer(serializers.Serializer):
    # Bounded: the read event carries it through the channel layer, whose msgpack stops at 64 bits.
    up_to = serializers.IntegerField(min_value=1, max_value=jsonin.MAX_INT)


def _validated(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _page(visitor: Visitor, params: Any) -> Response:
    page = _validated(PageSerializer, params)
    messages, more = selectors.messages_page(visitor=visitor, before=page.get("before"), limit=page["limit"])
    return Response({"messages": messages, "more": more})


def _send(visitor: Visitor, sender: str, data: Any, agent: Any = None) -> Response:
    body = _validated(SendSerializer, data)
    message, created = services.message_create(
        visitor=visitor, sender=sender, content=body["content"], client_id=body["client_id"], agent=agent
    )
    return Response(
        {"message": frames.message_payload(message, visitor.visitor_id), "duplicate": not created},
        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
    )


def _visitor_login(data: dict[str, Any], meta: dict[str, Any], own_origin: str | None) -> dict[str, Any]:
    login = services.visitor_login(
        enterprise_id=data["ent_id"],
        kefu_id=data.get("kefu_id") or None,
        token=data.get("token"),
        visitor_id=data.get("visitor_id"),
        visitor_name=data.get("visitor_name"),
        avatar=data.get("avatar"),
        ip=client_ip(meta.get("REMOTE_ADDR"), meta.get("HTTP_X_FORWARDED_FOR"), meta.get("HTTP_X_REAL_IP")),
        user_agent=meta.get("HTTP_USER_AGENT", ""),
        # Not the request's Referer: that is our own chat page. The page passes the operator's page on.
        referrer=data.get("refer", ""),
        landing_page=data.get("landing_page", ""),
        extra=data.get("extra"),
        origin=meta.get("HTTP_ORIGIN"),
        own_origin=own_origin,
    )
    visitor = login.visitor
    enterprise = login.enterprise
    agent = login.agent
    return {
        "token": login.token,
        "created": login.created,
        "visitor": {"visitor_id": visitor.visitor_id, "name": visitor.name, "avatar": avatar_or(visitor.avatar, "")},
        "enterprise": {
            "id": enterprise.pk,
            "name": enterprise.name,
            "welcome": enterprise.welcome_text,
            "offline_text": enterprise.offline_text,
        },
        "agent": {"name": agent.display_name, "avatar": agent.avatar_url} if agent else None,
        "ws_path": "/ws/visitor",
    }


def _error(code: str, message: Any, status_code: int) -> JsonResponse:
    return JsonResponse(error_body(code, message), status=status_code)


@csrf_exempt  # token API: no cookie is read, so there is nothing to forge
async def visitor_login(request: HttpRequest) -> JsonResponse:
    """POST /api/v1/visitor/login.

    Async: a sync view under ASGI runs in a new thread per request, with a new database connection each
    time, and a burst of logins exhausted MariaDB's connections (bench/README.md).
    """
    if request.method != "POST":
        return _error("method_not_allowed", _("Use POST."), 405)
    body: Any
    try:
        if request.content_type == "application/json":
            body = jsonin.loads(request.body or b"{}")
        else:
            body = request.POST
            # Form fields are decoded leniently (bad UTF-8 becomes U+FFFD) but may still carry NUL.
            jsonin.check(list(body.lists()))
    except jsonin.InputError as exc:
        return _error(exc.code, exc.message, 400)
    except RequestDataTooBig:
        return _error("too_large", _("The body is too large."), 413)
    except MultiPartParserError:
        return _error("parse_error", _("The body is not valid form data."), 400)
    serializer = VisitorLoginSerializer(data=body)
    if not serializer.is_valid():
        return _error("invalid", serializer.errors, 400)
    try:
        # A pool thread (each with its persistent connection), not Django's new thread per request.
        payload = await database_sync_to_async(_visitor_login, thread_sensitive=False)(
            dict(serializer.validated_data), dict(request.META), origins.request_own_origin(request)
        )
    except ChatError as exc:
        return _error(exc.code, exc.message, exc.status)
    except health.INFRASTRUCTURE_ERRORS as exc:
        return JsonResponse(unavailable_body(exc), status=503)
    payload["agents_online"] = len(await _online_now(payload["enterprise"]["id"], AGENT))
    return JsonResponse(payload)


class VisitorView(APIView):
    authentication_classes = [VisitorTokenAuthentication]
    permission_classes = [IsVisitor]

    def visitor(self, request: Request) -> Visitor:
        claim = request.auth
        visitor = selectors.visitor_get_by_pk(enterprise_id=claim.enterprise_id, pk=claim.visitor_pk)  # type: ignore[union-attr]
        if visitor is None:
            raise not_found(_("Visitor"))
        if not origins.request_origin_allowed(visitor.enterprise, request):
            raise forbidden_origin()
        return visitor


class VisitorMessagesView(VisitorView):
    def get(self, request: Request) -> Response:
        return _page(self.visitor(request), request.query_params)

    def post(self, request: Request) -> Response:
        return _send(self.visitor(request), Message.Sender.VISITOR, request.data)


class AgentView(APIView):
    permission_classes = [IsAgent]

    @staticmethod
    def agent(request: Request) -> User:
        return cast(User, request.user)  # IsAgent has checked it

    def enterprise_id(self, request: Request) -> int:
        return cast(int, self.agent(request).enterprise_id)

    def visitor(self, request: Request, visitor_id: str) -> Visitor:
        visitor = selectors.visitor_get(enterprise_id=self.enterprise_id(request), visitor_id=visitor_id)
        if visitor is None:
            raise not_found(_("Visitor"))
        return visitor


class AgentMeView(AgentView):
    def get(self, request: Request) -> Response:
        return Response(agent_payload(self.agent(request)))


class AgentVisitorsView(AgentView):
    def get(self, request: Request) -> Response:
        enterprise_id = self.enterprise_id(request)
        online = _online(enterprise_id, VISITOR)
        only_online = request.query_params.get("online") in {"1", "true"}
        visitors = selectors.visitor_summaries(
            enterprise_id=enterprise_id,
            visitor_pks=online if only_online else None,
            online=online,
            limit=2000 if only_online else 200,
        )
        return Response({"visitors": visitors})


class AgentVisitorView(AgentView):
    def get(self, request: Request, visitor_id: str) -> Response:
        visitor = self.visitor(request, visitor_id)
        online = _online(visitor.enterprise_id, VISITOR)
        summary = selectors.visitor_summaries(
            enterprise_id=visitor.enterprise_id, visitor_pks=[visitor.pk], online=online
        )
        return Response(summary[0])


class AgentVisitorMessagesView(AgentView):
    def get(self, request: Request, visitor_id: str) -> Response:
        return _page(self.visitor(request, visitor_id), request.query_params)

    def post(self, request: Request, visitor_id: str) -> Response:
        return _send(self.visitor(request, visitor_id), Message.Sender.AGENT, request.data, agent=self.agent(request))


class AgentVisitorReadView(AgentView):
    def post(self, request: Request, visitor_id: str) -> Response:
        body = _validated(ReadSerializer, request.data)
        changed = services.messages_mark_read(
            agent=self.agent(request), visitor=self.visitor(request, visitor_id), up_to=body["up_to"]
        )
        return Response({"marked": changed})
