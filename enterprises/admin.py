"""Admin for enterprises, with their IP blacklists inline (blacklist.admin lists every block), and the
platform's audit log, read only."""

from django.contrib import admin
from django.http import HttpRequest

from .models import AuditEntry, Enterprise, IPBlacklist


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
