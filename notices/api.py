"""The agent API of the notices app: the caller's e-mail alert setting, and the team's for admins."""

from __future__ import annotations

from typing import Any

from django.utils.translation import get_language
from django.utils.translation import gettext as _
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.views import AgentView
from core.errors import ChatError

from . import selectors, services

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
