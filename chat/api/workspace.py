"""The agent API of the workspace: remark names, tags and search (docs/protocol.md, "Workspace")."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from chat import access, frames, search, workspace
from chat.realtime.presence import VISITOR, online_now
from core.api.schema import errors
from core.errors import ChatError

from . import openapi as shapes
from .views import AgentView

_TAG_ADMIN = {403: "`forbidden`: needs `manage_settings`"}
_NOT_FOUND = {404: "`not_found`: no such tag or visitor in the enterprise"}


def _body(request: Request) -> dict[str, Any]:
    data = request.data
    if not isinstance(data, dict):
        raise ChatError("invalid", _("The body must be a JSON object."))
    return data


def remark_set(request: Request, agent: Any, visitor_id: str) -> Response:
    """PATCH /api/v1/agent/visitors/<visitor_id> {"real_name"}: called by AgentVisitorView."""
    body = _body(request)
    if "real_name" not in body:
        raise ChatError("invalid", _("Send `real_name` (an empty string clears it)."))
    visitor = workspace.visitor_remark_set(agent=agent, visitor_id=visitor_id, real_name=body["real_name"])
    return Response({"visitor_id": visitor.visitor_id, "real_name": visitor.real_name})


class AgentTagsView(AgentView):
    """GET the enterprise's tags (any agent); POST {"name", "colour"} one (manage_settings)."""

    @extend_schema(responses=shapes.TagListSerializer)
    def get(self, request: Request) -> Response:
        return Response({"tags": workspace.tags_of_enterprise(enterprise_id=self.enterprise_id(request))})

    @extend_schema(
        request=shapes.TagBodySerializer,
        responses={
            201: shapes.TagSerializer,
            **errors({**_TAG_ADMIN, 400: "`bad_name`, `bad_colour`, `too_many`", 409: "`tag_exists`"}),
        },
    )
    def post(self, request: Request) -> Response:
        body = _body(request)
        tag = workspace.tag_create(agent=self.agent(request), name=body.get("name"), colour=body.get("colour", "blue"))
        return Response(frames.tag_payload(tag), status=status.HTTP_201_CREATED)


class AgentTagView(AgentView):
    """PATCH {"name"?, "colour"?} or DELETE a tag (manage_settings)."""

    @extend_schema(
        request=shapes.TagBodySerializer,
        responses={
            200: shapes.TagSerializer,
            **errors({**_TAG_ADMIN, **_NOT_FOUND, 400: "`bad_name`, `bad_colour`", 409: "`tag_exists`"}),
        },
    )
    def patch(self, request: Request, tag_id: str) -> Response:
        body = _body(request)
        tag = workspace.tag_update(
            agent=self.agent(request), tag_id=tag_id, name=body.get("name"), colour=body.get("colour")
        )
        return Response(frames.tag_payload(tag))

    @extend_schema(responses={204: None, **errors({**_TAG_ADMIN, **_NOT_FOUND})})
    def delete(self, request: Request, tag_id: str) -> Response:
        workspace.tag_delete(agent=self.agent(request), tag_id=tag_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AgentVisitorTagsView(AgentView):
    """POST {"tag_id"}: put a tag on the visitor (any agent)."""

    @extend_schema(
        request=shapes.VisitorTagBodySerializer, responses={200: shapes.VisitorTagsSerializer, **errors(_NOT_FOUND)}
    )
    def post(self, request: Request, visitor_id: str) -> Response:
        body = _body(request)
        tags = workspace.visitor_tag_add(agent=self.agent(request), visitor_id=visitor_id, tag_id=body.get("tag_id"))
        return Response({"visitor_id": visitor_id, "tags": tags})


class AgentVisitorTagView(AgentView):
    """DELETE: take a tag off the visitor (any agent)."""

    @extend_schema(responses={200: shapes.VisitorTagsSerializer, **errors(_NOT_FOUND)})
    def delete(self, request: Request, visitor_id: str, tag_id: str) -> Response:
        tags = workspace.visitor_tag_remove(agent=self.agent(request), visitor_id=visitor_id, tag_id=tag_id)
        return Response({"visitor_id": visitor_id, "tags": tags})


class AgentSearchView(AgentView):
    """GET ?q=&tag=: the enterprise's visitors matching, with the matching message's snippet."""

    @extend_schema(
        parameters=[
            OpenApiParameter("q", str, description="At most 100 characters."),
            OpenApiParameter("tag", str, description="A tag id: only visitors carrying it."),
        ],
        responses={200: shapes.SearchSerializer, **errors({400: "`bad_query`", 404: "`not_found`: no such tag"})},
    )
    def get(self, request: Request) -> Response:
        q = search.clean_query(request.query_params.get("q"))
        tag = request.query_params.get("tag")
        tag_id = None
        if tag:
            tag_id = access.access_tag(agent=self.agent(request), tag_id=tag).pk
        enterprise_id = self.enterprise_id(request)
        results = search.search(
            enterprise_id=enterprise_id, q=q, tag_id=tag_id, online=online_now(enterprise_id, VISITOR)
        )
        return Response({"visitors": results, "limit": search.RESULTS_MAX})
