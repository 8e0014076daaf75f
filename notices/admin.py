"""Agents' e-mail alert settings in /admin (read mostly: the agent sets them in the console), and the
platform's announcements."""

from __future__ import annotations

from typing import Any, cast

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from accounts.models import User

from . import announcements
from .models import AgentAlerts, Announcement


@admin.register(AgentAlerts)
class AgentAlertsAdmin(admin.ModelAdmin):
    list_display = ("agent", "enterprise", "email_enabled", "language", "last_sent_at", "failures")
    list_filter = ("email_enabled",)
    search_fields = ("agent__username", "agent__email")
    readonly_fields = ("alerted_up_to", "last_sent_at", "lease_until", "failures", "next_attempt_at", "last_error")
    raw_id_fields = ("agent", "enterprise")


@admin.register(Announcement)
class AnnouncementAdmin(admin.ModelAdmin):
    """Superadmins publish announcements to every enterprise's agents or to chosen ones; saving and deleting
    go through notices.announcements, which pushes the change to the open consoles."""

    list_display = ("title", "audience", "published_at", "expires_at", "created_by")
    search_fields = ("title", "content")
    list_filter = ("published_at", "expires_at")
    date_hierarchy = "published_at"
    fields = ("title", "content", "enterprises", "expires_at")
    filter_horizontal = ("enterprises",)

    @admin.display(description=_("enterprises"))
    def audience(self, obj: Announcement) -> str:
        names = [str(enterprise) for enterprise in obj.enterprises.all()[:5]]
        return ", ".join(names) if names else str(_("every enterprise"))

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).prefetch_related("enterprises").select_related("created_by")

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        data = form.cleaned_data
        saved = announcements.announcement_save(
            author=cast(User, request.user),
            title=data["title"],
            content=data["content"],
            expires_at=data.get("expires_at"),
            enterprise_ids=[enterprise.pk for enterprise in data.get("enterprises") or []],
            announcement_id=obj.pk if change else None,
        )
        obj.pk = saved.pk

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        pass  # announcement_save set the enterprises

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        announcements.announcement_delete(author=cast(User, request.user), announcement_id=obj.pk)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for announcement in queryset:
            announcements.announcement_delete(author=cast(User, request.user), announcement_id=announcement.pk)
