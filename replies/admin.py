"""Replies in /admin for superadmins, saves keeping the console's rules (sanitised HTML, cache versions); in
the management area (/manage/), an enterprise admin's keyword rules and welcome texts, through the services."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from accounts.permissions import MANAGE_SETTINGS
from enterprises.manage import TenantModelAdmin, manage_site

from . import cache, services
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


# --- the management area (/manage/): the enterprise's keyword rules and welcome texts ----------------


class KeywordRuleManageAdmin(TenantModelAdmin):
    permission = MANAGE_SETTINGS
    list_display = ("keyword", "match", "short_reply", "priority", "enabled")
    list_filter = ("enabled", "match")
    search_fields = ("keyword", "reply")
    fields = ("keyword", "match", "reply", "priority", "enabled")
    ordering = ("-priority", "keyword")
    actions = ["enable_rules", "disable_rules"]

    @admin.display(description=_("reply"))
    def short_reply(self, obj: KeywordRule) -> str:
        return obj.reply[:80]

    def create(self, request: HttpRequest, data: dict[str, Any]) -> KeywordRule:
        return services.keyword_rule_create(agent=request.user, **{name: data[name] for name in self.fields})  # type: ignore[arg-type]

    def update(self, request: HttpRequest, obj: KeywordRule, data: dict[str, Any]) -> None:
        changes = {name: data[name] for name in self.fields}
        services.keyword_rule_update(agent=request.user, rule_id=obj.pk, **changes)  # type: ignore[arg-type]

    def remove(self, request: HttpRequest, obj: KeywordRule) -> None:
        services.keyword_rule_delete(agent=request.user, rule_id=obj.pk)  # type: ignore[arg-type]

    def _enabled(self, request: HttpRequest, queryset: QuerySet[Any], enabled: bool) -> None:
        for rule in queryset:
            services.keyword_rule_update(agent=request.user, rule_id=rule.pk, enabled=enabled)  # type: ignore[arg-type]

    @admin.action(description=_("Enable selected rules"))
    def enable_rules(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self._enabled(request, queryset, True)

    @admin.action(description=_("Disable selected rules"))
    def disable_rules(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self._enabled(request, queryset, False)


class WelcomeTextManageAdmin(TenantModelAdmin):
    permission = MANAGE_SETTINGS
    list_display = ("__str__", "language", "position")
    list_filter = ("language",)
    fields = ("content", "language", "position")
    ordering = ("position", "pk")

    def create(self, request: HttpRequest, data: dict[str, Any]) -> WelcomeText:
        return services.welcome_text_create(
            agent=request.user,  # type: ignore[arg-type]
            content=data["content"],
            position=data["position"],
            language=data["language"],
        )

    def update(self, request: HttpRequest, obj: WelcomeText, data: dict[str, Any]) -> None:
        services.welcome_text_update(
            agent=request.user,  # type: ignore[arg-type]
            welcome_id=obj.pk,
            content=data["content"],
            position=data["position"],
            language=data["language"],
        )

    def remove(self, request: HttpRequest, obj: WelcomeText) -> None:
        services.welcome_text_delete(agent=request.user, welcome_id=obj.pk)  # type: ignore[arg-type]


manage_site.register(KeywordRule, KeywordRuleManageAdmin)
manage_site.register(WelcomeText, WelcomeTextManageAdmin)
