"""Routes of the e-mail alerts API, included by gofly_site/urls.py."""

from django.urls import path

from . import api

urlpatterns = [
    path("api/v1/agent/alerts", api.AgentAlertsView.as_view(), name="agent-alerts"),
    path("api/v1/agent/alerts/team", api.AgentAlertsTeamView.as_view(), name="agent-alerts-team"),
]
