"""The agent API of the notices app: the caller's e-mail alert setting, the team's for admins, and the
platform's announcements."""

from __future__ import annotations

from typing import Any

from django.utils.translation import get_language
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.schema import errors
from core.api.views import AgentView
from core.errors import ChatError

from . import announcements, selectors, services

_FIELDS = {"email_enabled", "email", "language"}


# The shapes of the answers and the body, for the OpenAPI document only (notices/selectors.py and
# notices/announcements.py build the answers; tests/test_openapi.py checks them against these).
class AlertsSerializer(serializers.Serializer):
    email_enabled = serializers.BooleanField()
    email = serializers.CharField(help_text='The account\'s e-mail, at most 254 characters; "" clears it.')
    language = serializers.CharField(help_text="`zh-hans` or `en`.")
    mail_configured = serializers.BooleanField(read_only=True, help_text="false: the server has no EMAIL_HOST.")
    digest_minutes = serializers.FloatField(read_only=True)
    last_sent_at = serializers.DateTimeField(read_only=True, allow_null=True)
    failing = serializers.BooleanField(read_only=True)


class TeamAlertsSerializer(serializers.Serializer):
    agent_id = serializers.IntegerField()
    username = serializers.CharField()
    name = serializers.CharField()
    email = serializers.CharField()
    email_enabled = serializers.BooleanField()
    last_sent_at = serializers.DateTimeField(allow_null=True)
    failing = serializers.BooleanField()
    last_error = serializers.CharField()


class TeamAlertListSerializer(serializers.Serializer):
    agents = TeamAlertsSerializer(many=True)


class AnnouncementSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    content = serializers.CharField(help_text="Sanitised rich text.")
    published_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)
    read = serializers.BooleanField()


class AnnouncementListSerializer(serializers.Serializer):
    announcements = AnnouncementSerializer(many=True)
    unread = serializers.IntegerField()


class OkSerializer(serializers.Serializer):
    ok = serializers.BooleanField()


class AgentAlertsView(AgentView):
    """GET and PATCH {"email_enabled"?: bool, "email"?: str, "language"?: "zh-hans"|"en"}."""

    @extend_schema(responses=AlertsSerializer)
    def get(self, request: Request) -> Response:
        return Response(selectors.alerts_of(agent=self.agent(request)))

    @extend_schema(
        request=AlertsSerializer,
        responses={
            200: AlertsSerializer,
            **errors({400: "`bad_request`, `bad_email_enabled`, `bad_email`, `bad_language`, `no_email`"}),
        },
    )
    def patch(self, request: Request) -> Response:
        body: Any = request.data
        if not isinstance(body, dict):
            raise ChatError("bad_request", _("The body must be a JSON object."))
        unknown = set(body) - _FIELDS
        if unknown:
            raise ChatError("bad_request", _("Unknown field: %(name)s.") % {"name": sorted(unknown)[0]})
        language = body.get("language")
        if language is None and "email_enabled" in body:
            language = get_language()  # the console's language, unless the client names one
        return Response(
            services.alerts_settings_set(
                agent=self.agent(request),
                email_enabled=body.get("email_enabled"),
                email=body.get("email"),
                language=language,
            )
        )


class AgentAlertsTeamView(AgentView):
    """GET (permission manage_agents): every colleague's alert setting."""

    @extend_schema(responses={200: TeamAlertListSerializer, **errors({403: "`forbidden`: needs `manage_agents`"})})
    def get(self, request: Request) -> Response:
        return Response({"agents": selectors.alerts_of_team(agent=self.agent(request))})


class AgentAnnouncementsView(AgentView):
    """GET: the platform's announcements for the caller's enterprise, newest first, each with `read`."""

    @extend_schema(responses=AnnouncementListSerializer)
    def get(self, request: Request) -> Response:
        return Response(announcements.announcements_of(agent=self.agent(request)))


class AgentAnnouncementReadView(AgentView):
    """POST: the caller has seen this announcement."""

    @extend_schema(
        request=None,
        responses={200: OkSerializer, **errors({404: "`not_found`: another enterprise's, expired or missing"})},
    )
    def post(self, request: Request, announcement_id: int) -> Response:
        announcements.announcement_read(agent=self.agent(request), announcement_id=announcement_id)
        return Response({"ok": True})
