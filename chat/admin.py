"""Admin for visitors and messages (read-mostly: conversations are the visitors' and agents')."""

from typing import Any

from django.contrib import admin

from .models import Conversation, Message, Visitor


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
