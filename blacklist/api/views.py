"""The agent API of blacklists: list the enterprise's blocks, block a visitor or an address, unblock."""

from __future__ import annotations

from typing import cast

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import permissions
from accounts.models import User
from core.api.auth import IsAgent
from core.api.schema import errors
from core.errors import ChatError

from .. import selectors, services
from . import openapi as shapes

_FORBIDDEN = {403: "`forbidden`: needs `block` (and `manage_settings` for a network wider than the limit)"}


class _AgentView(APIView):
    permission_classes = [IsAgent]

    @staticmethod
    def agent(request: Request) -> User:
        return cast(User, request.user)


class BlacklistView(_AgentView):
    """GET: the blocks in force. POST {"visitor_id", "what": visitor|ip|network} or {"network"}, with
    optional "reason" and "until" (1h, 1d, 7d, 30d, forever, or an ISO 8601 datetime)."""

    @extend_schema(responses={200: shapes.BlacklistSerializer, **errors(_FORBIDDEN)})
    def get(self, request: Request) -> Response:
        agent = self.agent(request)
        permissions.require(agent, permissions.BLOCK)
        return Response({"entries": selectors.blacklist_entries(enterprise_id=cast(int, agent.enterprise_id))})

    @extend_schema(
        request=shapes.BlockSerializer,
        responses={
            201: shapes.BlacklistEntrySerializer,
            **errors(
                {
                    **_FORBIDDEN,
                    400: "`invalid` (network, `what`, `until`, `reason`), `too_wide`",
                    404: "`not_found`: no such visitor",
                }
            ),
        },
    )
    def post(self, request: Request) -> Response:
        data = request.data
        if not isinstance(data, dict):
            raise ChatError("invalid", _("Send a JSON object."))
        agent = self.agent(request)
        if "visitor_id" in data:
            entry = services.visitor_block(
                agent=agent,
                visitor_id=data.get("visitor_id"),
                what=data.get("what", "visitor"),
                reason=data.get("reason", ""),
                until=data.get("until"),
            )
        else:
            entry = services.ip_block(
                agent=agent, network=data.get("network"), reason=data.get("reason", ""), until=data.get("until")
            )
        return Response(entry, status=status.HTTP_201_CREATED)


class BlacklistEntryView(_AgentView):
    """DELETE /api/v1/agent/blacklist/<visitor|ip>/<visitor id or entry id>: unblock."""

    @extend_schema(
        parameters=[OpenApiParameter("kind", str, OpenApiParameter.PATH, enum=["visitor", "ip"])],
        responses={204: None, **errors({**_FORBIDDEN, 404: "`not_found`: no such block"})},
    )
    def delete(self, request: Request, kind: str, entry_id: str) -> Response:
        services.blacklist_remove(agent=self.agent(request), kind=kind, entry_id=entry_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
