"""Admin for enterprises, with their IP blacklists inline (blacklist.admin lists every block), and the
platform's audit log, read only, and its system configuration."""

from typing import Any

from django.contrib import admin
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from .models import AuditEntry, Enterprise, IPBlacklist, SystemConfig
from .selectors import system_config_forget


class IPBlacklistInline(admin.TabularInline):
    model = IPBlacklist
    fields = ("network", "reason", "expires_at")
    extra = 0


@admin.register(Enterprise)
class EnterpriseAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "is_active", "created_at")
    search_fields = ("name",)
    list_filter = ("is_active",)
    inlines = [IPBlacklistInline]


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("created_at", "enterprise", "actor_name", "action", "target_name", "address")
    list_filter = ("action", "enterprise")
    search_fields = ("actor_name", "target_name")
    date_hierarchy = "created_at"
    list_select_related = ("enterprise",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(SystemConfig)
class SystemConfigAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """One row: its list opens it; it cannot be deleted. Every page shows the change within seconds."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return super().has_add_permission(request) and not SystemConfig.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        config = SystemConfig.objects.order_by("pk").first()
        if config is None:
            return HttpResponseRedirect(reverse("admin:enterprises_systemconfig_add"))
        return HttpResponseRedirect(reverse("admin:enterprises_systemconfig_change", args=[config.pk]))

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        system_config_forget()
        transaction.on_commit(system_config_forget)  # and again: a page may have cached the old one meanwhile
