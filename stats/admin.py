"""Statistics in both admin sites: the platform's (totals and per enterprise) in /admin, an enterprise's in
its management area (/manage/stats/)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _

from accounts.permissions import MANAGE_AGENTS
from enterprises.manage import Page, manage_site

from .models import MessageDay
from .views import enterprise_stats, stats_page


@admin.register(MessageDay)
class PlatformStatsAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Its list is the platform's statistics page; the rollup rows themselves are nobody's to edit."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        return stats_page(request, enterprise=None, site=self.admin_site)


manage_site.register_page(Page("stats/", "stats", _("Statistics"), MANAGE_AGENTS, enterprise_stats))
