"""URL routes: pages, the versioned API and the admin. Websocket routes are in chat/routing.py."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView
from rest_framework_simplejwt.views import TokenRefreshView

from accounts import views as accounts_views
from chat import views as chat_views
from chat.api import blacklist as blacklist_api
from chat.api import views as api
from chat.api import widget as widget_api
from chat.api import workspace as workspace_api
from core import probes
from notices import api as notices_api

urlpatterns = [
    path("", RedirectView.as_view(url="/console", permanent=False)),
    path("healthz", probes.healthz, name="healthz"),
    path("readyz", probes.readyz, name="readyz"),
    path("chatIndex", chat_views.chat_index, name="chat-index"),
    path("livechat", chat_views.chat_index, name="livechat"),
    path("console", chat_views.console, name="console"),
    path("login", accounts_views.ConsoleLoginView.as_view(), name="login"),
    path("logout", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/login/", accounts_views.admin_login, name="admin-login"),
    path("admin/", admin.site.urls),
    path("api/v1/auth/token", accounts_views.TokenObtainView.as_view(), name="jwt-obtain"),
    path("api/v1/auth/token/refresh", TokenRefreshView.as_view(), name="jwt-refresh"),
    path("api/v1/visitor/login", api.visitor_login, name="visitor-login"),
    path("api/v1/widget", widget_api.widget_state, name="widget-state"),
    path("api/v1/visitor/messages", api.VisitorMessagesView.as_view(), name="visitor-messages"),
    path("api/v1/agent/me", api.AgentMeView.as_view(), name="agent-me"),
    path("api/v1/agent/visitors", api.AgentVisitorsView.as_view(), name="agent-visitors"),
    path("api/v1/agent/visitors/<str:visitor_id>", api.AgentVisitorView.as_view(), name="agent-visitor"),
    path(
        "api/v1/agent/visitors/<str:visitor_id>/messages",
        api.AgentVisitorMessagesView.as_view(),
        name="agent-visitor-messages",
    ),
    path("api/v1/agent/visitors/<str:visitor_id>/tags", workspace_api.AgentVisitorTagsView.as_view()),
    path("api/v1/agent/visitors/<str:visitor_id>/tags/<str:tag_id>", workspace_api.AgentVisitorTagView.as_view()),
    path("api/v1/agent/tags", workspace_api.AgentTagsView.as_view(), name="agent-tags"),
    path("api/v1/agent/tags/<str:tag_id>", workspace_api.AgentTagView.as_view(), name="agent-tag"),
    path("api/v1/agent/search", workspace_api.AgentSearchView.as_view(), name="agent-search"),
    path("api/v1/agent/visitors/<str:visitor_id>/read", api.AgentVisitorReadView.as_view(), name="agent-visitor-read"),
    path(
        "api/v1/agent/visitors/<str:visitor_id>/uploads",
        api.AgentVisitorUploadView.as_view(),
        name="agent-visitor-uploads",
    ),
    path("media/<str:key>", chat_views.media, name="media"),
    path("media/<str:key>/thumb", chat_views.media, {"thumb": True}, name="media-thumb"),
    path(
        "api/v1/agent/visitors/<str:visitor_id>/clear", api.AgentVisitorClearView.as_view(), name="agent-visitor-clear"
    ),
    path("api/v1/agent/conversations", api.AgentConversationsView.as_view(), name="agent-conversations"),
    path(
        "api/v1/agent/conversations/<int:conversation_id>",
        api.AgentConversationView.as_view(),
        name="agent-conversation",
    ),
    path(
        "api/v1/agent/conversations/<int:conversation_id>/messages",
        api.AgentConversationMessagesView.as_view(),
        name="agent-conversation-messages",
    ),
    *[
        path(
            f"api/v1/agent/conversations/<int:conversation_id>/{action}",
            api.AgentConversationActionView.as_view(action=action),
            name=f"agent-conversation-{action}",
        )
        for action in ("take", "transfer", "close", "reopen")
    ],
    path("api/v1/agent/agents", api.AgentsView.as_view(), name="agent-agents"),
    path("api/v1/agent/blacklist", blacklist_api.BlacklistView.as_view(), name="agent-blacklist"),
    path(
        "api/v1/agent/blacklist/<str:kind>/<str:entry_id>",
        blacklist_api.BlacklistEntryView.as_view(),
        name="agent-blacklist-entry",
    ),
    path("api/v1/agent/agents/<int:agent_id>", api.AgentColleagueView.as_view(), name="agent-colleague"),
    path("api/v1/agent/settings", api.AgentRoutingSettingsView.as_view(), name="agent-settings"),
    path("api/v1/agent/status", api.AgentStatusView.as_view(), name="agent-status"),
    path("api/v1/agent/alerts", notices_api.AgentAlertsView.as_view(), name="agent-alerts"),
    path("api/v1/agent/alerts/team", notices_api.AgentAlertsTeamView.as_view(), name="agent-alerts-team"),
    path("api/v1/visitor/conversation", api.VisitorConversationView.as_view(), name="visitor-conversation"),
    path("api/v1/visitor/leave-message", api.VisitorLeaveMessageView.as_view(), name="visitor-leave-message"),
    path("api/v1/visitor/read", api.VisitorReadView.as_view(), name="visitor-read"),
    path("api/v1/visitor/uploads", api.VisitorUploadView.as_view(), name="visitor-uploads"),
    path("api/v1/visitor/token", api.VisitorTokenView.as_view(), name="visitor-token"),
    path(
        "api/v1/visitor/conversation/close",
        api.VisitorConversationCloseView.as_view(),
        name="visitor-conversation-close",
    ),
    path("", include("replies.api.urls")),
]
