"""Routes of the e-mail alerts and announcements API, included by gofly_site/urls.py."""

from django.urls import path

from . import api

urlpatterns = [
    path("api/v1/agent/alerts", api.AgentAlertsView.as_view(), name="agent-alerts"),
    path("api/v1/agent/alerts/team", api.AgentAlertsTeamView.as_view(), name="agent-alerts-team"),
    path("api/v1/agent/announcements", api.AgentAnnouncementsView.as_view(), name="agent-announcements"),
    path(
        "api/v1/agent/announcements/<int:announcement_id>/read",
        api.AgentAnnouncementReadView.as_view(),
        name="agent-announcement-read",
    ),
]
