"""Replies in /admin for superadmins; saves keep the console's rules (sanitised HTML, cache versions)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin

from . import cache
from .models import CannedGroup, CannedReply, KeywordRule, WelcomeText
from .sanitise import sanitise


@admin.register(CannedGroup)
class CannedGroupAdmin(admin.ModelAdmin):
    list_display = ("name", "enterprise", "owner", "position")
    list_filter = ("enterprise",)
    search_fields = ("name",)
    raw_id_fields = ("owner",)


@admin.register(CannedReply)
class CannedReplyAdmin(admin.ModelAdmin):
    list_display = ("title", "enterprise", "owner", "group", "position")
    list_filter = ("enterprise",)
    search_fields = ("title", "content")
    raw_id_fields = ("owner", "group")


@admin.register(KeywordRule)
class KeywordRuleAdmin(admin.ModelAdmin):
    list_display = ("keyword", "match", "priority", "enabled", "enterprise")
    list_filter = ("enterprise", "enabled", "match")
    search_fields = ("keyword", "reply")

    def save_model(self, request: Any, obj: KeywordRule, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        cache.bump(obj.enterprise_id)

    def delete_model(self, request: Any, obj: KeywordRule) -> None:
        super().delete_model(request, obj)
        cache.bump(obj.enterprise_id)

    def delete_queryset(self, request: Any, queryset: Any) -> None:
        enterprises = set(queryset.values_list("enterprise_id", flat=True))
        super().delete_queryset(request, queryset)
        for enterprise_id in enterprises:
            cache.bump(enterprise_id)


@admin.register(WelcomeText)
class WelcomeTextAdmin(admin.ModelAdmin):
    list_display = ("__str__", "enterprise", "position")
    list_filter = ("enterprise",)

    def save_model(self, request: Any, obj: WelcomeText, form: Any, change: bool) -> None:
        obj.content = sanitise(obj.content)
        super().save_model(request, obj, form, change)
        cache.bump(obj.enterprise_id)

    def delete_model(self, request: Any, obj: WelcomeText) -> None:
        super().delete_model(request, obj)
        cache.bump(obj.enterprise_id)

    def delete_queryset(self, request: Any, queryset: Any) -> None:
        enterprises = set(queryset.values_list("enterprise_id", flat=True))
        super().delete_queryset(request, queryset)
        for enterprise_id in enterprises:
            cache.bump(enterprise_id)
