"""The visitor and agent HTTP API (/api/v1/...), documented in docs/protocol.md."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from channels.db import database_sync_to_async
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import permissions
from accounts.models import User
from accounts.selectors import agent_payload
from chat import access, frames, hooks, selectors, services, uploads, workspace
from chat.access import access_conversation, access_visitor, access_visitor_self
from chat.identity import TICKET_MAX_LENGTH, visitor_token_identity, visitor_token_issue
from chat.models import Conversation, Message, Visitor
from chat.pages import visitor_pages
from chat.realtime.presence import AGENT, VISITOR, online_now
from core import health, jsonin
from core.api.errors import error_body, unavailable_body
from core.api.schema import AutoSchema, described_by, errors
from core.api.views import AgentView as BaseAgentView
from core.clientip import request_client_ip
from core.errors import ChatError, forbidden_origin
from core.safety import avatar_or
from enterprises import origins
from enterprises import services as enterprise_services
from enterprises.models import Enterprise

from . import openapi as shapes
from .auth import IsVisitor, VisitorTokenAuthentication


class ExtraField(serializers.JSONField):
    """`extra` as a JSON object, or the original's base64 of one (decoded by the login service). A form body
    gives every value as text: text that is not JSON is passed on as it is, for the service to decode."""

    def to_internal_value(self, data: Any) -> Any:
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError:
            if isinstance(data, str):
                return str(data)
            raise


class VisitorLoginSerializer(serializers.Serializer):
    ent_id = serializers.CharField(max_length=20)
    kefu_id = serializers.CharField(max_length=150, required=False, allow_blank=True)
    token = serializers.CharField(max_length=512, required=False, allow_blank=True)
    visitor_id = serializers.CharField(max_length=64, required=False, allow_blank=True)
    visitor_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    avatar = serializers.CharField(max_length=300, required=False, allow_blank=True)
    refer = serializers.CharField(max_length=1000, required=False, allow_blank=True)
    landing_page = serializers.CharField(max_length=1000, required=False, allow_blank=True)
    extra = ExtraField(required=False)
    # A signed identity (enterprises.identity): checked by the service, so a malformed one answers bad_signature.
    timestamp = serializers.CharField(max_length=20, required=False, allow_blank=True)
    signature = serializers.CharField(max_length=128, required=False, allow_blank=True)
    # A channel app's ticket (chat.identity.visitor_ticket_issue), from the page's `ticket`: log in as its visitor.
    ticket = serializers.CharField(max_length=TICKET_MAX_LENGTH, required=False, allow_blank=True)


class PageSerializer(serializers.Serializer):
    before = serializers.IntegerField(min_value=1, max_value=jsonin.MAX_INT, required=False)
    limit = serializers.IntegerField(min_value=1, max_value=100, default=20)


class SendSerializer(serializers.Serializer):
    client_id = serializers.CharField(max_length=64)
    # The length limit is the service's, so HTTP and websocket answer it alike (413 too_large).
    content = serializers.CharField(trim_whitespace=False, allow_blank=True, required=False, default="")
    # The key of an upload (POST .../uploads) to send instead of text.
    attachment = serializers.CharField(max_length=64, required=False)
    # An agent's internal note (for the enterprise's agents only); ignored from a visitor.
    note = serializers.BooleanField(required=False, default=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "content" not in self.initial_data and "attachment" not in attrs:
            raise serializers.ValidationError({"content": [_("Send `content`, or `attachment` with an upload's key.")]})
        return attrs


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
    if agent is not None and body["note"]:
        sender = Message.Sender.NOTE
    message, created = services.message_create(
        visitor=visitor,
        sender=sender,
        content=body["content"],
        client_id=body["client_id"],
        agent=agent,
        attachment=body.get("attachment"),
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
        ip=request_client_ip(meta),
        user_agent=meta.get("HTTP_USER_AGENT", ""),
        # Not the request's Referer: that is our own chat page. The page passes the operator's page on.
        referrer=data.get("refer", ""),
        landing_page=data.get("landing_page", ""),
        extra=data.get("extra"),
        origin=meta.get("HTTP_ORIGIN"),
        own_origin=own_origin,
        timestamp=data.get("timestamp"),
        signature=data.get("signature"),
        ticket=data.get("ticket") or None,
    )
    visitor = login.visitor
    enterprise = login.enterprise
    agent = login.agent
    language = translation.get_language() or settings.LANGUAGE_CODE  # the page's, by LocaleMiddleware
    about: dict[str, Any] = {
        "id": enterprise.pk,
        "name": enterprise.name,
        # The welcome texts, sanitised HTML in order, and the first of them: from the replies app (its hook answer).
        "welcome": "",
        "welcomes": [],
        "offline_text": enterprise.offline_text_in(language),
    }
    login_said = hooks.VisitorLoggedIn(visitor, enterprise, login.created, language)
    for fields in hooks.visitor_logged_in.send(login_said):
        about.update(fields)
    return {
        "token": login.token,
        "created": login.created,
        "visitor": {"visitor_id": visitor.visitor_id, "name": visitor.name, "avatar": avatar_or(visitor.avatar, "")},
        "enterprise": about,
        "agent": {"name": agent.display_name, "avatar": agent.avatar_url} if agent else None,
        "uploads": uploads.upload_limits(enterprise),
        "product": login.product,
        "ws_path": "/ws/visitor",
    }


def _error(code: str, message: Any, status_code: int) -> JsonResponse:
    return JsonResponse(error_body(code, message), status=status_code)


# What the OpenAPI document says of each refusal (docs/protocol.md, 3).
_SEND_REFUSALS = {
    400: "`bad_client_id`, `bad_content`, `empty`, `unstorable`",
    404: "`not_found`: an `attachment` that is not this thread's upload",
    413: "`too_large`: `content` over the message length",
    429: "`rate_limited`: resend after the window",
}
_UPLOAD_REFUSALS = {
    400: "`empty`, `no_file` (not exactly one file in `file`), `bad_upload_id`, `bad_image`",
    413: "`too_large`: over the enterprise's limit or the pixel limit",
    415: "`bad_type`: markup, a program or a name a browser would run",
    429: "`rate_limited`: 20 uploads per minute per uploader",
    503: "`busy` (with Retry-After): too many images being decoded; retry",
}
_VISITOR_404 = {404: "`not_found`: no such visitor of the enterprise"}
_SENT = {
    201: OpenApiResponse(shapes.MessageSentSerializer, description="Stored now."),
    200: OpenApiResponse(shapes.MessageSentSerializer, description="This `client_id` was stored before: nothing sent."),
}
_UPLOADED = {
    201: OpenApiResponse(shapes.UploadedSerializer, description="Stored now."),
    200: OpenApiResponse(shapes.UploadedSerializer, description="This `upload_id` was stored before: the stored one."),
}
_UPLOAD_BODY = {"multipart/form-data": shapes.UploadSerializer}


# visitor_login is an async Django view (DRF's request handling is sync): this class describes it in the OpenAPI
# document and is never routed.
class VisitorLoginDescription(APIView):
    """Start or resume a visitor (docs/protocol.md, 5.3). The body is JSON, or form data (any body that is not
    JSON is read as form data); only `ent_id` is required."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    parser_classes = [JSONParser, FormParser, MultiPartParser]

    @extend_schema(
        operation_id="visitor_login",
        request=VisitorLoginSerializer,
        responses={
            200: shapes.VisitorLoggedInSerializer,
            **errors(
                {
                    400: "`invalid`, `bad_extra`",
                    403: "`blacklisted`, `forbidden_origin`, `identity_required`, `bad_signature`, `signature_expired`",
                    404: "`not_found`: no such active enterprise, or no such agent",
                    405: "`method_not_allowed`: anything but POST",
                    429: "`rate_limited`: logins per client IP",
                }
            ),
        },
    )
    def post(self, request: Request) -> Response:
        raise NotImplementedError("never routed: visitor_login answers")


@described_by(VisitorLoginDescription)
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
    payload["agents_online"] = len(await services.agents_serving(payload["enterprise"]["id"]))
    return JsonResponse(payload)


class VisitorView(APIView):
    authentication_classes = [VisitorTokenAuthentication]
    permission_classes = [IsVisitor]
    openapi_errors = {
        403: "`blacklisted`, `forbidden_origin`",
        404: "`not_found`: the visitor was deleted or its enterprise is suspended",
    }

    def visitor(self, request: Request) -> Visitor:
        claim = request.auth
        visitor = access_visitor_self(
            enterprise_id=claim.enterprise_id,  # type: ignore[union-attr]
            visitor_pk=claim.visitor_pk,  # type: ignore[union-attr]
            identity=claim.identity,  # type: ignore[union-attr]
            ip=request_client_ip(request.META),
        )
        if not origins.request_origin_allowed(visitor.enterprise, request):
            raise forbidden_origin()
        if getattr(visitor, "ip_blocked", False) or access.visitor_block_active(visitor) is not None:
            raise access.blocked_error()
        return visitor


class VisitorTokenView(VisitorView):
    """POST /api/v1/visitor/token: a fresh token for the bearer's visitor, so that a page left open for
    longer than a token lives never finds itself logged out (docs/protocol.md section 2)."""

    @extend_schema(request=None, responses=shapes.TokenSerializer)
    def post(self, request: Request) -> Response:
        visitor = self.visitor(request)
        token = visitor_token_issue(
            visitor_pk=visitor.pk,
            enterprise_id=visitor.enterprise_id,
            # Of the same secret as the bearer's: one of the previous secret still ends with its grace.
            identity=visitor_token_identity(visitor.enterprise, request.auth.identity),  # type: ignore[union-attr]
        )
        return Response({"token": token})


class VisitorMessagesView(VisitorView):
    @extend_schema(
        parameters=[PageSerializer], responses={200: shapes.MessagePageSerializer, **errors({400: "`invalid`"})}
    )
    def get(self, request: Request) -> Response:
        page = _validated(PageSerializer, request.query_params)
        messages, more = selectors.messages_page_for_visitor(
            visitor=self.visitor(request), before=page.get("before"), limit=page["limit"]
        )
        return Response({"messages": messages, "more": more})

    @extend_schema(
        request=SendSerializer,
        responses={**_SENT, **errors(_SEND_REFUSALS)},
    )
    def post(self, request: Request) -> Response:
        return _send(self.visitor(request), Message.Sender.VISITOR, request.data)


class LeaveMessageSerializer(serializers.Serializer):
    # Lengths and formats are the service's, so its error codes (bad_name, bad_contact, empty, too_large) answer.
    name = serializers.CharField(trim_whitespace=False, allow_blank=True, required=False, default="")
    contact = serializers.CharField(trim_whitespace=False, allow_blank=True)
    content = serializers.CharField(trim_whitespace=False, allow_blank=True)


class VisitorLeaveMessageView(VisitorView):
    @extend_schema(
        request=LeaveMessageSerializer,
        responses={
            201: shapes.MessageLeftSerializer,
            **errors({400: "`bad_contact`, `bad_name`, `empty`", 413: "`too_large`", 429: "`rate_limited`"}),
        },
    )
    def post(self, request: Request) -> Response:
        visitor = self.visitor(request)
        body = _validated(LeaveMessageSerializer, request.data)
        message = services.offline_message_leave(
            visitor=visitor, name=body["name"], contact=body["contact"], content=body["content"]
        )
        return Response(
            {"message": frames.message_payload(message, visitor.visitor_id)}, status=status.HTTP_201_CREATED
        )


def _upload(request: Request, visitor: Visitor, agent: User | None) -> Response:
    files = request.FILES.getlist("file")
    if len(files) != 1:
        raise ChatError("no_file", _("Send exactly one file, as multipart form data in the field `file`."))
    attachment, created = uploads.upload_store(
        visitor=visitor, agent=agent, upload_id=request.data.get("upload_id"), upload=files[0]
    )
    return Response(
        {"attachment": uploads.attachment_payload(attachment), "duplicate": not created},
        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
    )


class VisitorUploadView(VisitorView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        request=_UPLOAD_BODY,
        responses={**_UPLOADED, **errors(_UPLOAD_REFUSALS)},
    )
    def post(self, request: Request) -> Response:
        return _upload(request, self.visitor(request), None)


class AgentView(BaseAgentView):
    """An agent API view that reaches its enterprise's visitors and conversations."""

    @staticmethod
    def agent(request: Request) -> User:
        return cast(User, request.user)  # IsAgent has checked it

    def visitor(self, request: Request, visitor_id: str) -> Visitor:
        return access_visitor(agent=self.agent(request), visitor_id=visitor_id)

    def conversation(self, request: Request, conversation_id: int) -> Conversation:
        return access_conversation(agent=self.agent(request), conversation_id=conversation_id)


class AgentMeView(AgentView):
    @extend_schema(responses=shapes.AgentMeSerializer)
    def get(self, request: Request) -> Response:
        return Response(agent_payload(self.agent(request)))


class AgentVisitorsView(AgentView):
    """The 200 most recently active visitors, or with `online=1` every online one (up to 2000)."""

    @extend_schema(
        operation_id="agent_visitors_list",
        parameters=[OpenApiParameter("online", str, enum=["1", "true"], description="Only the online visitors.")],
        responses=shapes.VisitorListSerializer,
    )
    def get(self, request: Request) -> Response:
        enterprise_id = self.enterprise_id(request)
        online = online_now(enterprise_id, VISITOR)
        only_online = request.query_params.get("online") in {"1", "true"}
        visitors = selectors.visitor_summaries(
            enterprise_id=enterprise_id,
            visitor_pks=online if only_online else None,
            online=online,
            limit=2000 if only_online else 200,
        )
        return Response({"visitors": visitors})


class AgentVisitorView(AgentView):
    """GET one visitor's summary and details; PATCH its remark name."""

    @extend_schema(responses={200: shapes.VisitorDetailSerializer, **errors(_VISITOR_404)})
    def get(self, request: Request, visitor_id: str) -> Response:
        visitor = self.visitor(request, visitor_id)
        online = online_now(visitor.enterprise_id, VISITOR)
        summary = selectors.visitor_summaries(
            enterprise_id=visitor.enterprise_id, visitor_pks=[visitor.pk], online=online
        )
        item = summary[0]
        item["conversations"] = selectors.conversations_of_visitor(visitor=visitor)
        item["pages"] = visitor_pages(visitor=visitor)
        item["blocked"] = access.visitor_block_summary(visitor)
        item["tags"] = workspace.tags_of_visitor(visitor=visitor)
        return Response(item)

    @extend_schema(
        request=shapes.RemarkSerializer,
        responses={200: shapes.RemarkSerializer, **errors({400: "`bad_real_name`", **_VISITOR_404})},
    )
    def patch(self, request: Request, visitor_id: str) -> Response:
        from .workspace import remark_set  # that module builds on this one

        return remark_set(request, self.agent(request), visitor_id)


class AgentVisitorMessagesView(AgentView):
    @extend_schema(
        parameters=[PageSerializer],
        responses={200: shapes.MessagePageSerializer, **errors({400: "`invalid`", **_VISITOR_404})},
    )
    def get(self, request: Request, visitor_id: str) -> Response:
        return _page(self.visitor(request, visitor_id), request.query_params)

    @extend_schema(
        request=SendSerializer,
        responses={
            **_SENT,
            **errors(
                {
                    **_SEND_REFUSALS,
                    400: "`bad_client_id`, `bad_content`, `empty`, `unstorable`, `bad_note`",
                    404: "`not_found`: no such visitor, or an `attachment` not made into this thread",
                    409: "`no_conversation`: a note for a visitor who never wrote",
                }
            ),
        },
    )
    def post(self, request: Request, visitor_id: str) -> Response:
        return _send(self.visitor(request, visitor_id), Message.Sender.AGENT, request.data, agent=self.agent(request))


class AgentVisitorUploadView(AgentView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        request=_UPLOAD_BODY,
        responses={
            **_UPLOADED,
            **errors({**_UPLOAD_REFUSALS, **_VISITOR_404}),
        },
    )
    def post(self, request: Request, visitor_id: str) -> Response:
        return _upload(request, self.visitor(request, visitor_id), self.agent(request))


class AgentVisitorReadView(AgentView):
    @extend_schema(request=ReadSerializer, responses={200: shapes.MarkedSerializer, **errors(_VISITOR_404)})
    def post(self, request: Request, visitor_id: str) -> Response:
        body = _validated(ReadSerializer, request.data)
        changed = services.messages_mark_read(
            agent=self.agent(request), visitor=self.visitor(request, visitor_id), up_to=body["up_to"]
        )
        return Response({"marked": changed})


class AgentVisitorClearView(AgentView):
    @extend_schema(
        request=None,
        responses={
            200: shapes.ClearedSerializer,
            **errors({403: "`forbidden`: needs `clear_history`", **_VISITOR_404}),
        },
    )
    def post(self, request: Request, visitor_id: str) -> Response:
        services.visitor_history_clear(agent=self.agent(request), visitor_id=visitor_id)
        return Response({"cleared": True})


class VisitorReadView(VisitorView):
    @extend_schema(request=ReadSerializer, responses=shapes.MarkedSerializer)
    def post(self, request: Request) -> Response:
        body = _validated(ReadSerializer, request.data)
        return Response(
            {"marked": services.messages_mark_read_by_visitor(visitor=self.visitor(request), up_to=body["up_to"])}
        )


class VisitorConversationView(VisitorView):
    @extend_schema(responses=shapes.VisitorConversationAnswerSerializer)
    def get(self, request: Request) -> Response:
        visitor = self.visitor(request)
        conversation = services.conversation_of(visitor)
        position = selectors.queue_position(conversation) if conversation is not None else None
        return Response({"conversation": frames.conversation_visitor_payload(conversation, position)})


class VisitorConversationCloseView(VisitorView):
    @extend_schema(request=None, responses=shapes.VisitorConversationAnswerSerializer)
    def post(self, request: Request) -> Response:
        closed = services.conversation_close_by_visitor(visitor=self.visitor(request))
        return Response({"conversation": frames.conversation_visitor_payload(closed, None)})


class ConversationListSerializer(serializers.Serializer):
    tab = serializers.ChoiceField(choices=selectors.TABS, default="open")
    before = serializers.IntegerField(min_value=1, max_value=jsonin.MAX_INT, required=False)
    limit = serializers.IntegerField(min_value=1, max_value=200, default=100)


class AgentConversationsView(AgentView):
    @extend_schema(
        operation_id="agent_conversations_list",
        parameters=[ConversationListSerializer],
        responses={200: shapes.ConversationPageSerializer, **errors({400: "`invalid`"})},
    )
    def get(self, request: Request) -> Response:
        query = _validated(ConversationListSerializer, request.query_params)
        agent = self.agent(request)
        enterprise_id = self.enterprise_id(request)
        rows, more = selectors.conversations_page(
            enterprise_id=enterprise_id,
            agent_pk=agent.pk,
            tab=query["tab"],
            online=online_now(enterprise_id, VISITOR),
            before=query.get("before"),
            limit=query["limit"],
        )
        counts = selectors.conversation_counts(enterprise_id=enterprise_id, agent_pk=agent.pk)
        return Response({"conversations": rows, "more": more, "counts": counts})


def _conversation_answer(conversation: Conversation, agent: User) -> dict[str, Any]:
    item = frames.conversation_payload(conversation, conversation.visitor.visitor_id)
    if conversation.assignee_id == agent.pk and conversation.transfer_note:
        item["transfer_note"] = conversation.transfer_note  # for the assignee alone
    return item


_CONVERSATION_404 = {404: "`not_found`: no such conversation in the enterprise"}


class AgentConversationView(AgentView):
    @extend_schema(responses={200: shapes.ConversationSerializer, **errors(_CONVERSATION_404)})
    def get(self, request: Request, conversation_id: int) -> Response:
        conversation = self.conversation(request, conversation_id)
        return Response(_conversation_answer(conversation, self.agent(request)))


class AgentConversationMessagesView(AgentView):
    @extend_schema(
        parameters=[PageSerializer],
        responses={200: shapes.MessagePageSerializer, **errors({400: "`invalid`", **_CONVERSATION_404})},
    )
    def get(self, request: Request, conversation_id: int) -> Response:
        conversation = self.conversation(request, conversation_id)
        page = _validated(PageSerializer, request.query_params)
        messages, more = selectors.messages_of_conversation(
            conversation=conversation, before=page.get("before"), limit=page["limit"]
        )
        return Response({"messages": messages, "more": more})


class TransferSerializer(serializers.Serializer):
    to_agent_id = serializers.IntegerField(min_value=1, max_value=jsonin.MAX_INT)
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


_ACTIONS: dict[str, Callable[..., Conversation]] = {
    "take": services.conversation_take,
    "transfer": services.conversation_transfer,
    "close": services.conversation_close,
    "reopen": services.conversation_reopen,
}


_ACTION_REFUSALS: dict[str, dict[int, str]] = {
    "take": {403: "`forbidden`: needs `take`", 409: "`already_taken`, `over_limit`"},
    "transfer": {
        403: "`forbidden`: needs `transfer`",
        404: "`not_found`: no such conversation, or an agent of another enterprise",
        409: "`agent_offline`, `over_limit`, `same_agent`, `closed`",
    },
    "close": {403: "`forbidden`: needs `close`"},
    "reopen": {403: "`forbidden`: needs `close`", 409: "`not_closed`, `conversation_open`, `over_limit`"},
}


class ConversationActionSchema(AutoSchema):
    """One view serves the four actions: each route's body and refusals are its action's."""

    def get_request_serializer(self) -> Any:
        return TransferSerializer if getattr(self.view, "action", "") == "transfer" else None

    def get_response_serializers(self) -> Any:
        refusals = {**_CONVERSATION_404, **_ACTION_REFUSALS[getattr(self.view, "action", "close")]}
        return {200: shapes.ConversationSerializer, **errors(refusals)}


class AgentConversationActionView(AgentView):
    """POST .../take, .../transfer, .../close, .../reopen."""

    action = ""
    schema = ConversationActionSchema()

    def post(self, request: Request, conversation_id: int) -> Response:
        agent = self.agent(request)
        kwargs: dict[str, Any] = {}
        if self.action == "transfer":
            kwargs = _validated(TransferSerializer, request.data)
        service = _ACTIONS[self.action]
        conversation = service(agent=agent, conversation_id=conversation_id, **kwargs)
        return Response(_conversation_answer(conversation, agent))


class AgentsView(AgentView):
    @extend_schema(responses=shapes.AgentListSerializer)
    def get(self, request: Request) -> Response:
        enterprise_id = self.enterprise_id(request)
        return Response(
            {"agents": selectors.agents_roster(enterprise_id=enterprise_id, online=online_now(enterprise_id, AGENT))}
        )


class StatusSerializer(serializers.Serializer):
    status = serializers.CharField(max_length=20)


class AgentStatusView(AgentView):
    @extend_schema(
        request=StatusSerializer, responses={200: shapes.AgentStatusSerializer, **errors({400: "`bad_status`"})}
    )
    def post(self, request: Request) -> Response:
        body = _validated(StatusSerializer, request.data)
        return Response(services.agent_status_set(agent=self.agent(request), status=body["status"]))


class RoutingSettingsSerializer(serializers.Serializer):
    max_conversations_per_agent = serializers.IntegerField(min_value=0, max_value=1000, required=False)
    auto_close_minutes = serializers.IntegerField(min_value=0, max_value=60 * 24 * 30, required=False)
    landing_domain = serializers.CharField(max_length=200, required=False, allow_blank=True)
    offline_text = serializers.CharField(max_length=1000, required=False, allow_blank=True)
    offline_text_en = serializers.CharField(max_length=1000, required=False, allow_blank=True)

    def validate_landing_domain(self, value: str) -> str:
        try:
            return enterprise_services.landing_domain_clean(value)
        except ChatError as exc:
            raise serializers.ValidationError(exc.message) from None


class AgentRoutingSettingsView(AgentView):
    """GET (any agent) and PATCH (permission manage_settings) the enterprise's settings: routing, the offline
    texts, and the landing domain of its chat page."""

    @staticmethod
    def answer(enterprise: Enterprise) -> Response:
        return Response({**services.routing_settings(enterprise), "landing_domain": enterprise.landing_domain})

    @extend_schema(responses=shapes.RoutingSettingsAnswerSerializer)
    def get(self, request: Request) -> Response:
        agent = self.agent(request)
        assert agent.enterprise is not None  # IsAgent
        return self.answer(agent.enterprise)

    @extend_schema(
        request=RoutingSettingsSerializer,
        responses={
            200: shapes.RoutingSettingsAnswerSerializer,
            **errors({403: "`forbidden`: needs `manage_settings`"}),
        },
    )
    def patch(self, request: Request) -> Response:
        body = _validated(RoutingSettingsSerializer, request.data)
        agent = self.agent(request)
        if "landing_domain" in body:
            permissions.require(agent, permissions.MANAGE_SETTINGS)
            enterprise_services.enterprise_landing_domain_set(
                enterprise_id=agent.enterprise_id or 0, landing_domain=body.pop("landing_domain")
            )
        services.routing_settings_update(agent=agent, **body)
        return self.answer(Enterprise.objects.get(pk=agent.enterprise_id or 0))


class AgentLimitSerializer(serializers.Serializer):
    max_conversations = serializers.IntegerField(min_value=0, max_value=1000, allow_null=True)


class AgentColleagueView(AgentView):
    """PATCH (permission manage_agents) a colleague's own limit of open conversations."""

    @extend_schema(
        request=AgentLimitSerializer,
        responses={
            200: shapes.AgentStatusSerializer,
            **errors({403: "`forbidden`: needs `manage_agents`", 404: "`not_found`: no such agent"}),
        },
    )
    def patch(self, request: Request, agent_id: int) -> Response:
        body = _validated(AgentLimitSerializer, request.data)
        return Response(
            services.agent_limit_set(
                agent=self.agent(request), agent_id=agent_id, max_conversations=body["max_conversations"]
            )
        )
