"""The agent API of the notices app: the caller's e-mail alert setting, the team's for admins, and the
platform's announcements."""

from __future__ import annotations

from typing import Any

from django.utils.translation import get_language
from django.utils.translation import gettext as _
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.views import AgentView
from core.errors import ChatError

from . import announcements, selectors, services

_FIELDS = {"email_enabled", "email", "language"}


class AgentAlertsView(AgentView):
    """GET and PATCH {"email_enabled"?: bool, "email"?: str, "language"?: "zh-hans"|"en"}."""

    def get(self, request: Request) -> Response:
        return Response(selectors.alerts_of(agent=self.agent(request)))

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

    def get(self, request: Request) -> Response:
        return Response({"agents": selectors.alerts_of_team(agent=self.agent(request))})


class AgentAnnouncementsView(AgentView):
    """GET: the platform's announcements for the caller's enterprise, newest first, each with `read`."""

    def get(self, request: Request) -> Response:
        return Response(announcements.announcements_of(agent=self.agent(request)))


class AgentAnnouncementReadView(AgentView):
    """POST: the caller has seen this announcement."""

    def post(self, request: Request, announcement_id: int) -> Response:
        announcements.announcement_read(agent=self.agent(request), announcement_id=announcement_id)
        return Response({"ok": True})
