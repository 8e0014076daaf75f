"""Admin for visitors and messages (read-mostly: conversations are the visitors' and agents'); in the
management area (/manage/), an enterprise admin's tags and routing settings, through the services."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from accounts.permissions import MANAGE_SETTINGS
from enterprises.manage import Page, TenantModelAdmin, manage_site
from enterprises.models import Enterprise

from . import deploy, services, workspace
from .models import Conversation, Message, Tag, Visitor


@admin.register(Visitor)
class VisitorAdmin(admin.ModelAdmin):
    list_display = ("name", "visitor_id", "enterprise", "agent", "ip", "visits", "last_message_at", "created_at")
    list_filter = ("enterprise",)
    search_fields = ("name", "visitor_id", "ip")
    list_select_related = ("enterprise", "agent")
    readonly_fields = ("visitor_id", "created_at", "updated_at", "last_message_at")


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ("id", "visitor", "sender", "agent", "short_content", "created_at", "read_at")
    list_filter = ("enterprise", "sender")
    search_fields = ("content", "visitor__visitor_id")
    list_select_related = ("visitor", "agent")
    readonly_fields = ("enterprise", "visitor", "agent", "sender", "kind", "client_id", "created_at")
    raw_id_fields = ("visitor",)

    @admin.display(description="content")
    def short_content(self, obj: Message) -> str:
        return obj.content[:80]


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    """Read-only: conversations change through the console's actions, which publish what they change."""

    list_display = ("id", "visitor", "enterprise", "status", "assignee", "created_at", "closed_at", "closed_by")
    list_filter = ("enterprise", "status", "closed_by")
    search_fields = ("visitor__visitor_id", "visitor__name")
    list_select_related = ("visitor", "enterprise", "assignee")
    raw_id_fields = ("visitor",)

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False


# --- the management area (/manage/): the enterprise's tags and routing settings ----------------------


class TagManageAdmin(TenantModelAdmin):
    permission = MANAGE_SETTINGS
    list_display = ("name", "colour")
    search_fields = ("name",)
    fields = ("name", "colour")
    ordering = ("name",)

    def create(self, request: HttpRequest, data: dict[str, Any]) -> Tag:
        return workspace.tag_create(agent=request.user, name=data["name"], colour=data["colour"])  # type: ignore[arg-type]

    def update(self, request: HttpRequest, obj: Tag, data: dict[str, Any]) -> None:
        workspace.tag_update(agent=request.user, tag_id=obj.pk, name=data["name"], colour=data["colour"])  # type: ignore[arg-type]

    def remove(self, request: HttpRequest, obj: Tag) -> None:
        workspace.tag_delete(agent=request.user, tag_id=obj.pk)  # type: ignore[arg-type]


class RoutingSettingsManageAdmin(TenantModelAdmin):
    """The enterprise itself, one row: how many conversations an agent gets at once, when idle ones close, what
    visitors read while nobody serves."""

    permission = MANAGE_SETTINGS
    tenant_lookup = "pk"
    can_add = can_delete = False
    list_display = ("name", "max_conversations_per_agent", "auto_close_minutes")
    fields = ("name", "max_conversations_per_agent", "auto_close_minutes", "offline_text", "offline_text_en")
    readonly_fields = ("name",)

    def update(self, request: HttpRequest, obj: Enterprise, data: dict[str, Any]) -> None:
        services.routing_settings_update(
            agent=request.user,  # type: ignore[arg-type]
            max_conversations_per_agent=data["max_conversations_per_agent"],
            auto_close_minutes=data["auto_close_minutes"],
            offline_text=data["offline_text"],
            offline_text_en=data["offline_text_en"],
        )


manage_site.register(Tag, TagManageAdmin)
manage_site.register_page(
    Page("deploy/", "deploy", _("Deploy the chat: link, widget, identity secret"), MANAGE_SETTINGS, deploy.deploy_page)
)
manage_site.register(Enterprise, RoutingSettingsManageAdmin)
