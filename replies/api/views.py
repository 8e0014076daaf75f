"""The agent API of replies (/api/v1/agent/canned..., keyword-rules, welcome-texts): docs/protocol.md."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.permissions import MANAGE_SETTINGS, require
from core.api.schema import errors
from core.api.views import AgentView
from core.errors import ChatError

from .. import selectors, services
from ..models import KeywordRule, WelcomeText
from . import openapi as shapes

_Q_MAX = 100
# What the OpenAPI document says of the refusals (docs/protocol.md, 5.17).
_ADMIN = {403: "`forbidden`: needs `manage_settings` (or, for a personal row, to be its owner)"}
_GONE = errors({**_ADMIN, 404: "`not_found`: another enterprise's or agent's row answers the same"})
_REFUSED = {**_GONE, **errors({400: "`invalid`, `too_long`, `too_many`"})}


def _body(request: Request, allowed: set[str]) -> dict[str, Any]:
    """The JSON object's fields this endpoint knows; services check their types and sizes."""
    data = request.data
    if not isinstance(data, dict):
        raise ChatError("invalid", _("A JSON object is expected."))
    return {key: value for key, value in data.items() if key in allowed}


class CannedView(AgentView):
    """GET the composer's canned replies (the enterprise's and mine; `q` searches); POST one."""

    @extend_schema(
        parameters=[OpenApiParameter("q", str, description="Searches title and content; at most 100 characters.")],
        responses={200: shapes.CannedListSerializer, **errors({400: "`too_long`"})},
    )
    def get(self, request: Request) -> Response:
        q = request.query_params.get("q", "")
        if len(q) > _Q_MAX:
            raise ChatError("too_long", _("The search is too long."))
        return Response(selectors.canned_for_agent(agent=self.agent(request), q=q.strip()))

    @extend_schema(request=shapes.CannedReplySerializer, responses={201: shapes.CannedReplySerializer, **_REFUSED})
    def post(self, request: Request) -> Response:
        body = _body(request, {"scope", "title", "content", "group_id", "position"})
        body.setdefault("scope", services.PERSONAL)
        body.setdefault("title", None)
        body.setdefault("content", None)
        reply = services.canned_reply_create(agent=self.agent(request), **body)
        return Response(selectors.canned_payload(reply), status=status.HTTP_201_CREATED)


class CannedItemView(AgentView):
    @extend_schema(request=shapes.CannedReplySerializer, responses={200: shapes.CannedReplySerializer, **_REFUSED})
    def patch(self, request: Request, reply_id: int) -> Response:
        body = _body(request, {"title", "content", "group_id", "position"})
        reply = services.canned_reply_update(agent=self.agent(request), reply_id=reply_id, **body)
        return Response(selectors.canned_payload(reply))

    @extend_schema(responses={204: None, **_GONE})
    def delete(self, request: Request, reply_id: int) -> Response:
        services.canned_reply_delete(agent=self.agent(request), reply_id=reply_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CannedReorderView(AgentView):
    @extend_schema(request=shapes.CannedReorderSerializer, responses={204: None, **_REFUSED})
    def post(self, request: Request) -> Response:
        body = _body(request, {"ids"})
        services.canned_replies_reorder(agent=self.agent(request), reply_ids=body.get("ids"))
        return Response(status=status.HTTP_204_NO_CONTENT)


class CannedGroupsView(AgentView):
    @extend_schema(request=shapes.CannedGroupSerializer, responses={201: shapes.CannedGroupSerializer, **_REFUSED})
    def post(self, request: Request) -> Response:
        body = _body(request, {"scope", "name", "position"})
        body.setdefault("scope", services.PERSONAL)
        body.setdefault("name", None)
        group = services.canned_group_create(agent=self.agent(request), **body)
        return Response(selectors.group_payload(group), status=status.HTTP_201_CREATED)


class CannedGroupView(AgentView):
    @extend_schema(request=shapes.CannedGroupSerializer, responses={200: shapes.CannedGroupSerializer, **_REFUSED})
    def patch(self, request: Request, group_id: int) -> Response:
        body = _body(request, {"name", "position"})
        group = services.canned_group_update(agent=self.agent(request), group_id=group_id, **body)
        return Response(selectors.group_payload(group))

    @extend_schema(responses={204: None, **_GONE})
    def delete(self, request: Request, group_id: int) -> Response:
        services.canned_group_delete(agent=self.agent(request), group_id=group_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


_RULE_FIELDS = {"keyword", "reply", "match", "priority", "enabled"}


class KeywordRulesView(AgentView):
    """The enterprise's keyword rules (permission manage_settings)."""

    @extend_schema(responses={200: shapes.KeywordRuleListSerializer, **errors(_ADMIN)})
    def get(self, request: Request) -> Response:
        agent = self.agent(request)
        require(agent, MANAGE_SETTINGS)
        return Response({"rules": selectors.keyword_rule_list(enterprise_id=self.enterprise_id(request))})

    @extend_schema(request=shapes.KeywordRuleSerializer, responses={201: shapes.KeywordRuleSerializer, **_REFUSED})
    def post(self, request: Request) -> Response:
        body = _body(request, _RULE_FIELDS)
        body.setdefault("keyword", None)
        body.setdefault("reply", None)
        rule: KeywordRule = services.keyword_rule_create(agent=self.agent(request), **body)
        return Response(selectors.rule_payload(rule), status=status.HTTP_201_CREATED)


class KeywordRuleView(AgentView):
    @extend_schema(request=shapes.KeywordRuleSerializer, responses={200: shapes.KeywordRuleSerializer, **_REFUSED})
    def patch(self, request: Request, rule_id: int) -> Response:
        body = _body(request, _RULE_FIELDS)
        rule = services.keyword_rule_update(agent=self.agent(request), rule_id=rule_id, **body)
        return Response(selectors.rule_payload(rule))

    @extend_schema(responses={204: None, **_GONE})
    def delete(self, request: Request, rule_id: int) -> Response:
        services.keyword_rule_delete(agent=self.agent(request), rule_id=rule_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WelcomeTextsView(AgentView):
    """The enterprise's welcome texts, sanitised HTML in order (permission manage_settings)."""

    @extend_schema(responses={200: shapes.WelcomeTextListSerializer, **errors(_ADMIN)})
    def get(self, request: Request) -> Response:
        require(self.agent(request), MANAGE_SETTINGS)
        return Response({"welcome_texts": selectors.welcome_texts(enterprise_id=self.enterprise_id(request))})

    @extend_schema(request=shapes.WelcomeTextSerializer, responses={201: shapes.WelcomeTextSerializer, **_REFUSED})
    def post(self, request: Request) -> Response:
        body = _body(request, {"content", "position", "language"})
        body.setdefault("content", None)
        row: WelcomeText = services.welcome_text_create(agent=self.agent(request), **body)
        return Response(selectors.welcome_text_payload(row), status=status.HTTP_201_CREATED)


class WelcomeTextView(AgentView):
    @extend_schema(request=shapes.WelcomeTextSerializer, responses={200: shapes.WelcomeTextSerializer, **_REFUSED})
    def patch(self, request: Request, welcome_id: int) -> Response:
        body = _body(request, {"content", "position", "language"})
        row = services.welcome_text_update(agent=self.agent(request), welcome_id=welcome_id, **body)
        return Response(selectors.welcome_text_payload(row))

    @extend_schema(responses={204: None, **_GONE})
    def delete(self, request: Request, welcome_id: int) -> Response:
        services.welcome_text_delete(agent=self.agent(request), welcome_id=welcome_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
