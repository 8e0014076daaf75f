"""Admin for enterprises, with their IP blacklists inline (blacklist.admin lists every block), and the
platform's audit log, read only, and its system configuration."""

from typing import Any

from django.contrib import admin
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _

from core.errors import ChatError

from . import services
from .models import AuditEntry, Enterprise, IPBlacklist, SystemConfig
from .selectors import system_config_forget


class IPBlacklistInline(admin.TabularInline):
    model = IPBlacklist
    fields = ("network", "reason", "expires_at")
    extra = 0


@admin.register(Enterprise)
class EnterpriseAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("id", "name", "is_active", "max_agents", "time_zone", "created_at")
    search_fields = ("name",)
    list_filter = ("is_active",)
    inlines = [IPBlacklistInline]
    actions = ["suspend", "resume"]

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # one at a time, by its name (delete_view)
        return actions

    @admin.action(description=_("Suspend selected enterprises (their agents and visitors are shut out at once)"))
    def suspend(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for enterprise in queryset:
            services.enterprise_active_set(actor=request.user, enterprise_id=enterprise.pk, active=False)
        self.message_user(request, _("Suspended: %(names)s") % {"names": ", ".join(e.name for e in queryset)})

    @admin.action(description=_("Resume selected enterprises"))
    def resume(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for enterprise in queryset:
            services.enterprise_active_set(actor=request.user, enterprise_id=enterprise.pk, active=True)
        self.message_user(request, _("Resumed: %(names)s") % {"names": ", ".join(e.name for e in queryset)})

    def delete_view(self, request: HttpRequest, object_id: str, extra_context: Any = None) -> HttpResponse:
        """Django's confirmation would load every related row to list it (a million messages): instead, how
        many of each go, and the name typed to confirm."""
        enterprise = self.get_object(request, object_id)
        if enterprise is None or not self.has_delete_permission(request, enterprise):
            return HttpResponseRedirect(reverse("admin:enterprises_enterprise_changelist"))
        error = ""
        if request.method == "POST":
            try:
                gone = services.enterprise_delete(
                    actor=request.user, enterprise_id=enterprise.pk, confirm_name=request.POST.get("name", "")
                )
            except ChatError as refusal:
                error = refusal.message
            else:
                summary = ", ".join(f"{number} {what}" for _label, what, number in gone) or _("nothing else")
                self.message_user(
                    request,
                    _("%(name)s was deleted with %(summary)s. Its audit log entries remain.")
                    % {"name": enterprise.name, "summary": summary},
                )
                return HttpResponseRedirect(reverse("admin:enterprises_enterprise_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Delete %(name)s") % {"name": enterprise.name},
            "opts": self.opts,
            "object": enterprise,
            "holdings": services.enterprise_holdings(enterprise),
            "error": error,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "enterprises/admin/delete_enterprise.html", context)


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
