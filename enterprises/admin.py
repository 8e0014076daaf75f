"""Admin for enterprises and their IP blacklists."""

from django.contrib import admin

from .models import Enterprise, IPBlacklist


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


@admin.register(IPBlacklist)
class IPBlacklistAdmin(admin.ModelAdmin):
    list_display = ("network", "enterprise", "reason", "expires_at", "created_by", "created_at")
    fields = ("enterprise", "network", "reason", "expires_at")
    list_filter = ("enterprise",)
    search_fields = ("network",)
