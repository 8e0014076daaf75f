"""Routes of the chat's HTTP API (docs/protocol.md), included by gofly_site/urls.py."""

from django.urls import path

from . import views, widget, workspace

urlpatterns = [
    path("api/v1/visitor/login", views.visitor_login, name="visitor-login"),
    path("api/v1/widget", widget.widget_state, name="widget-state"),
    path("api/v1/visitor/messages", views.VisitorMessagesView.as_view(), name="visitor-messages"),
    path("api/v1/agent/me", views.AgentMeView.as_view(), name="agent-me"),
    path("api/v1/agent/visitors", views.AgentVisitorsView.as_view(), name="agent-visitors"),
    path("api/v1/agent/visitors/<str:visitor_id>", views.AgentVisitorView.as_view(), name="agent-visitor"),
    path(
        "api/v1/agent/visitors/<str:visitor_id>/messages",
        views.AgentVisitorMessagesView.as_view(),
        name="agent-visitor-messages",
    ),
    path("api/v1/agent/visitors/<str:visitor_id>/tags", workspace.AgentVisitorTagsView.as_view()),
    path("api/v1/agent/visitors/<str:visitor_id>/tags/<str:tag_id>", workspace.AgentVisitorTagView.as_view()),
    path("api/v1/agent/tags", workspace.AgentTagsView.as_view(), name="agent-tags"),
    path("api/v1/agent/tags/<str:tag_id>", workspace.AgentTagView.as_view(), name="agent-tag"),
    path("api/v1/agent/search", workspace.AgentSearchView.as_view(), name="agent-search"),
    path(
        "api/v1/agent/visitors/<str:visitor_id>/read", views.AgentVisitorReadView.as_view(), name="agent-visitor-read"
    ),
    path(
        "api/v1/agent/visitors/<str:visitor_id>/uploads",
        views.AgentVisitorUploadView.as_view(),
        name="agent-visitor-uploads",
    ),
    path(
        "api/v1/agent/visitors/<str:visitor_id>/clear",
        views.AgentVisitorClearView.as_view(),
        name="agent-visitor-clear",
    ),
    path("api/v1/agent/conversations", views.AgentConversationsView.as_view(), name="agent-conversations"),
    path(
        "api/v1/agent/conversations/<int:conversation_id>",
        views.AgentConversationView.as_view(),
        name="agent-conversation",
    ),
    path(
        "api/v1/agent/conversations/<int:conversation_id>/messages",
        views.AgentConversationMessagesView.as_view(),
        name="agent-conversation-messages",
    ),
    *[
        path(
            f"api/v1/agent/conversations/<int:conversation_id>/{action}",
            views.AgentConversationActionView.as_view(action=action),
            name=f"agent-conversation-{action}",
        )
        for action in ("take", "transfer", "close", "reopen")
    ],
    path("api/v1/agent/agents", views.AgentsView.as_view(), name="agent-agents"),
    path("api/v1/agent/agents/<int:agent_id>", views.AgentColleagueView.as_view(), name="agent-colleague"),
    path("api/v1/agent/settings", views.AgentRoutingSettingsView.as_view(), name="agent-settings"),
    path("api/v1/agent/status", views.AgentStatusView.as_view(), name="agent-status"),
    path("api/v1/visitor/conversation", views.VisitorConversationView.as_view(), name="visitor-conversation"),
    path("api/v1/visitor/leave-message", views.VisitorLeaveMessageView.as_view(), name="visitor-leave-message"),
    path("api/v1/visitor/read", views.VisitorReadView.as_view(), name="visitor-read"),
    path("api/v1/visitor/uploads", views.VisitorUploadView.as_view(), name="visitor-uploads"),
    path("api/v1/visitor/token", views.VisitorTokenView.as_view(), name="visitor-token"),
    path(
        "api/v1/visitor/conversation/close",
        views.VisitorConversationCloseView.as_view(),
        name="visitor-conversation-close",
    ),
]
