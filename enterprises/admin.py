"""Admin for enterprises and their IP blacklists."""

from django.contrib import admin

from .models import Enterprise, IPBlacklist


class IPBlacklistInline(admin.TabularInline):
    model = IPBlacklist
    fields = ("network", "reason")
    extra = 0


@admin.register(Enterprise)
class EnterpriseAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "is_active", "created_at")
    search_fields = ("name",)
    list_filter = ("is_active",)
    inlines = [IPBlacklistInline]


@admin.register(IPBlacklist)
class IPBlacklistAdmin(admin.ModelAdmin):
    list_display = ("network", "enterprise", "reason", "created_at")
    fields = ("enterprise", "network", "reason")
    list_filter = ("enterprise",)
    search_fields = ("network",)
