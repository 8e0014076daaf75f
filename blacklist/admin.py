"""Admin for blacklists: blocked visitors and blacklisted addresses (their tables are chat's and
enterprises', beside what they guard), in /admin and, for an enterprise's agents who may block, in the
management area (/manage/) through the services."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from accounts.permissions import BLOCK
from chat.models import VisitorBlock
from enterprises.manage import TenantModelAdmin, manage_site, tenant_of
from enterprises.models import IPBlacklist, ip_network_parse

from . import services


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


# --- the management area (/manage/): the enterprise's blocks ------------------------------------------


class IPBlacklistManageAdmin(TenantModelAdmin):
    """Blocked addresses and networks: add one, lift some (a block's reason and expiry are set when made)."""

    permission = BLOCK
    can_change = False
    list_display = ("network", "reason", "expires_at", "created_by", "created_at")
    search_fields = ("network", "reason")
    fields = ("network", "reason", "expires_at")
    list_select_related = ("created_by",)

    def create(self, request: HttpRequest, data: dict[str, Any]) -> IPBlacklist:
        until = data.get("expires_at")
        services.ip_block(
            agent=request.user,  # type: ignore[arg-type]
            network=data["network"],
            reason=data.get("reason") or "",
            until=until.isoformat() if until else None,
        )
        shown = ip_network_parse(data["network"])[0]
        return IPBlacklist.objects.get(enterprise_id=tenant_of(request) or 0, network=shown)

    def remove(self, request: HttpRequest, obj: IPBlacklist) -> None:
        services.blacklist_remove(agent=request.user, kind="ip", entry_id=obj.pk)  # type: ignore[arg-type]


class VisitorBlockManageAdmin(TenantModelAdmin):
    """Blocked visitors (made from the console, where the visitor is): listed, searched and lifted here."""

    permission = BLOCK
    can_add = can_change = False
    list_display = ("visitor", "reason", "expires_at", "created_by", "created_at")
    search_fields = ("visitor__visitor_id", "visitor__name", "reason")
    list_select_related = ("visitor", "created_by")

    def remove(self, request: HttpRequest, obj: VisitorBlock) -> None:
        services.blacklist_remove(agent=request.user, kind="visitor", entry_id=obj.visitor.visitor_id)  # type: ignore[arg-type]


manage_site.register(IPBlacklist, IPBlacklistManageAdmin)
manage_site.register(VisitorBlock, VisitorBlockManageAdmin)
