"""Admin for enterprises, with their IP blacklists inline (blacklist.admin lists every block)."""

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
