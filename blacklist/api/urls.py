"""Routes of the blacklist API, included by gofly_site/urls.py."""

from django.urls import path

from . import views

urlpatterns = [
    path("api/v1/agent/blacklist", views.BlacklistView.as_view(), name="agent-blacklist"),
    path(
        "api/v1/agent/blacklist/<str:kind>/<str:entry_id>",
        views.BlacklistEntryView.as_view(),
        name="agent-blacklist-entry",
    ),
]
