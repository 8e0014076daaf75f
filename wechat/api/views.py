"""The WeChat channel's agent API: bind one's own WeChat by scanning a QR code, see and remove the binding, and
the permanent QR code routing visitors to an agent, its picture served from our origin."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.schema import errors
from core.api.views import AgentView

from .. import qrcodes

_UNAVAILABLE = "`wechat_unavailable`: the enterprise has no enabled, complete official account"
_FAILED = "`wechat_failed`: WeChat refused or could not be reached"


# The shapes of the answers, for the OpenAPI document only (wechat/qrcodes.py builds them).
class BindingSerializer(serializers.Serializer):
    nickname = serializers.CharField(help_text='The WeChat nickname when WeChat gives one, else "".')
    bound_at = serializers.DateTimeField()
    alerts_enabled = serializers.BooleanField()


class BindingStatusSerializer(serializers.Serializer):
    available = serializers.BooleanField(help_text="Whether the enterprise's official account can bind now.")
    binding = BindingSerializer(allow_null=True)


class QrcodeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=["bind", "route"])
    image = serializers.CharField(help_text="Our URL of the PNG (the caller's credentials), never WeChat's.")
    url = serializers.CharField(help_text="What the QR code encodes (WeChat's URL).")
    expires_at = serializers.DateTimeField(allow_null=True, help_text="null: permanent (a route code).")


class WechatBindingView(AgentView):
    """GET: whether the caller's WeChat is bound; DELETE: unbind it."""

    @extend_schema(responses=BindingStatusSerializer)
    def get(self, request: Request) -> Response:
        return Response(qrcodes.binding_status(agent=self.agent(request)))

    @extend_schema(request=None, responses=BindingStatusSerializer)
    def delete(self, request: Request) -> Response:
        agent = self.agent(request)
        qrcodes.binding_delete(agent=agent)
        return Response(qrcodes.binding_status(agent=agent))


class WechatBindQrcodeView(AgentView):
    """POST: a new single-use QR code binding the caller's WeChat (live 10 minutes; older ones stop working)."""

    @extend_schema(
        request=None,
        responses={
            201: QrcodeSerializer,
            **errors({409: _UNAVAILABLE, 429: "`rate_limited`: too many codes asked for", 502: _FAILED}),
        },
    )
    def post(self, request: Request) -> Response:
        code = qrcodes.bind_qrcode_create(agent=self.agent(request))
        return Response(qrcodes.qrcode_payload(code), status=201)


class WechatRouteQrcodeView(AgentView):
    """GET: the caller's permanent QR code routing visitors who scan it to them (made at the first call)."""

    @extend_schema(
        responses={200: QrcodeSerializer, **errors({409: _UNAVAILABLE, 429: "`rate_limited`", 502: _FAILED})}
    )
    def get(self, request: Request) -> Response:
        agent = self.agent(request)
        return Response(qrcodes.qrcode_payload(qrcodes.route_qrcode_get_or_create(actor=agent, agent_id=agent.pk)))


class WechatAgentRouteQrcodeView(AgentView):
    """GET (manage_agents, or the agent themselves): a colleague's permanent routing QR code, to print."""

    @extend_schema(
        responses={
            200: QrcodeSerializer,
            **errors(
                {
                    403: "`forbidden`: needs `manage_agents`",
                    404: "`not_found`: no such active agent in the enterprise",
                    409: _UNAVAILABLE,
                    429: "`rate_limited`",
                    502: _FAILED,
                }
            ),
        }
    )
    def get(self, request: Request, agent_id: int) -> Response:
        code = qrcodes.route_qrcode_get_or_create(actor=self.agent(request), agent_id=agent_id)
        return Response(qrcodes.qrcode_payload(code))


class WechatQrcodeImageView(AgentView):
    """GET: a QR code's picture (PNG), fetched from WeChat by the server: the caller's own live code, or a
    colleague's route code for an admin."""

    @extend_schema(
        responses={
            (200, "image/png"): OpenApiResponse(OpenApiTypes.BINARY, description="The picture."),
            **errors({404: "`not_found`: not the caller's, expired or missing", 502: _FAILED}),
        }
    )
    def get(self, request: Request, qrcode_id: int) -> HttpResponse:
        code = qrcodes.qrcode_for_viewer(viewer=self.agent(request), qrcode_id=qrcode_id)
        content = qrcodes.qrcode_image(code)
        png = content.startswith(b"\x89PNG")
        answer = HttpResponse(content, content_type="image/png" if png else "image/jpeg")
        answer["Cache-Control"] = "private, max-age=300"
        answer["X-Content-Type-Options"] = "nosniff"
        return answer
