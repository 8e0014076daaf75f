"""Routes of the replies API, included by gofly_site/urls.py."""

from django.urls import path

from . import views

urlpatterns = [
    path("api/v1/agent/canned", views.CannedView.as_view(), name="agent-canned"),
    path("api/v1/agent/canned/reorder", views.CannedReorderView.as_view(), name="agent-canned-reorder"),
    path("api/v1/agent/canned/<int:reply_id>", views.CannedItemView.as_view(), name="agent-canned-item"),
    path("api/v1/agent/canned-groups", views.CannedGroupsView.as_view(), name="agent-canned-groups"),
    path("api/v1/agent/canned-groups/<int:group_id>", views.CannedGroupView.as_view(), name="agent-canned-group"),
    path("api/v1/agent/keyword-rules", views.KeywordRulesView.as_view(), name="agent-keyword-rules"),
    path("api/v1/agent/keyword-rules/<int:rule_id>", views.KeywordRuleView.as_view(), name="agent-keyword-rule"),
    path("api/v1/agent/welcome-texts", views.WelcomeTextsView.as_view(), name="agent-welcome-texts"),
    path("api/v1/agent/welcome-texts/<int:welcome_id>", views.WelcomeTextView.as_view(), name="agent-welcome-text"),
]
