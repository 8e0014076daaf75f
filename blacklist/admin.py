"""Admin for blacklists: blocked visitors and blacklisted addresses (their tables are chat's and
enterprises', beside what they guard)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin

from chat.models import VisitorBlock
from enterprises.models import IPBlacklist


@admin.register(IPBlacklist)
class IPBlacklistAdmin(admin.ModelAdmin):
    list_display = ("network", "enterprise", "reason", "expires_at", "created_by", "created_at")
    fields = ("enterprise", "network", "reason", "expires_at")
    list_filter = ("enterprise",)
    search_fields = ("network",)


@admin.register(VisitorBlock)
class VisitorBlockAdmin(admin.ModelAdmin):
    """Blocks of visitors by id; their sockets close at the next arrival check (the console and the API,
    blacklist.services, also disconnect them at once and close their conversations)."""

    list_display = ("visitor", "enterprise", "reason", "expires_at", "created_by", "created_at")
    fields = ("visitor", "reason", "expires_at")
    raw_id_fields = ("visitor",)
    list_filter = ("enterprise",)
    search_fields = ("visitor__visitor_id", "visitor__name", "reason")

    def save_model(self, request: Any, obj: VisitorBlock, form: Any, change: bool) -> None:
        obj.enterprise_id = obj.visitor.enterprise_id
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
