"""Admin for users (roles are Django's groups, in Django's own Group admin); in the management area
(/manage/), an enterprise admin's agents, roles and audit log."""

from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import SetPasswordMixin
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from core.errors import ChatError
from core.files import Inspected
from enterprises.manage import TenantModelAdmin, manage_site
from enterprises.models import AuditEntry

from . import lockout, permissions, services
from .forms import CaptchaAfterFailures, avatar_upload_clean, avatar_upload_fields
from .models import RoleGroup, User, username_normalise
from .selectors import role_of


class LockoutAwareAdminAuthenticationForm(CaptchaAfterFailures, AdminAuthenticationForm):
    """The admin's login is throttled like the others; during a lock-out it says so, not "wrong password"."""

    def get_invalid_login_error(self) -> ValidationError:
        refusal = lockout.login_refusal(self.request)
        if refusal is not None:
            return ValidationError(refusal[0], code="locked_out")
        return super().get_invalid_login_error()


admin.site.login_form = LockoutAwareAdminAuthenticationForm
admin.site.login_template = "accounts/admin_login.html"  # Django's, with the captcha after failures


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "nickname", "enterprise", "roles", "is_active", "last_login")
    list_filter = ("enterprise", "groups", "is_active", "is_superuser")
    search_fields = ("username", "nickname", "email")
    list_select_related = ("enterprise",)
    # The role is group membership: BaseUserAdmin's "Permissions" section edits it.
    fieldsets = (
        *BaseUserAdmin.fieldsets,  # type: ignore[misc]
        (_("GoFly"), {"fields": ("enterprise", "nickname", "avatar")}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).prefetch_related("groups")

    @admin.display(description=_("roles"))
    def roles(self, obj: User) -> str:
        return ", ".join(group.name for group in obj.groups.all())


# --- the management area (/manage/): an enterprise admin's team --------------------------------------


def _actor(request: HttpRequest) -> User:
    """The signed-in agent of a management page (the site let no one else in)."""
    return cast(User, request.user)


class AgentAddForm(SetPasswordMixin, forms.ModelForm):  # type: ignore[type-arg]
    password1, password2 = SetPasswordMixin.create_password_fields()
    role = forms.ChoiceField(label=_("role"))

    class Meta:
        model = User
        fields = ("username", "nickname", "max_conversations")

    def clean_username(self) -> str:
        name = username_normalise(self.cleaned_data.get("username") or "")
        try:
            services.username_available_or_raise(name)
        except ChatError as refusal:
            raise ValidationError(refusal.message, code=refusal.code) from None
        return name

    def clean(self) -> dict[str, Any]:
        self.validate_passwords()
        self.validate_password_for_user(self.instance)
        return cast(dict[str, Any], super().clean())


class AgentChangeForm(forms.ModelForm):  # type: ignore[type-arg]
    role = forms.ChoiceField(label=_("role"))
    avatar_file, avatar_clear = avatar_upload_fields()

    class Meta:
        model = User
        fields = ("nickname", "avatar", "max_conversations", "is_active")
        help_texts = {"avatar": _("Or the address of a picture kept elsewhere.")}

    def clean_avatar_file(self) -> Inspected | None:
        return avatar_upload_clean(self.cleaned_data.get("avatar_file"), uploader_id=self.instance.pk)


class AgentPasswordForm(SetPasswordMixin, forms.Form):
    password1, password2 = SetPasswordMixin.create_password_fields()

    def __init__(self, user: User, *args: Any, **kwargs: Any) -> None:
        self.user = user
        super().__init__(*args, **kwargs)

    def clean(self) -> dict[str, Any]:
        self.validate_passwords()
        self.validate_password_for_user(self.user)
        return cast(dict[str, Any], super().clean())


class RoleFilter(admin.SimpleListFilter):
    title = _("role")
    parameter_name = "role"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        roles = RoleGroup.objects.filter(Q(enterprise=None) | Q(enterprise_id=_actor(request).enterprise_id))
        return [(role.slug, str(role)) for role in roles.select_related("group").order_by("enterprise_id", "pk")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(groups__role__slug=self.value()) if self.value() else queryset


class AgentManageAdmin(TenantModelAdmin):
    """The enterprise's agents: add, edit, disable or enable, reset a password, delete (history stays)."""

    permission = permissions.MANAGE_AGENTS
    list_display = ("username", "nickname", "role_name", "is_active", "status", "max_conversations", "last_login")
    list_filter = ("is_active", "status", RoleFilter)
    search_fields = ("username", "nickname")
    ordering = ("username",)
    actions = ["disable_agents", "enable_agents", "delete_agents"]
    add_fieldsets = (
        (None, {"fields": ("username", "nickname", "role", "max_conversations", "password1", "password2")}),
    )
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "nickname",
                    "avatar_preview",
                    "avatar_file",
                    "avatar",
                    "avatar_clear",
                    "role",
                    "max_conversations",
                    "is_active",
                )
            },
        ),
    )
    readonly_fields = ("avatar_preview",)
    change_form_template = "accounts/manage/agent_change_form.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).filter(deleted_at=None).prefetch_related("groups__role")

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.add_fieldsets if obj is None else self.fieldsets

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        kwargs["form"] = AgentAddForm if obj is None else AgentChangeForm
        kwargs["fields"] = None
        form = super().get_form(request, obj, change=change, **kwargs)
        role_field = cast(forms.ChoiceField, form.base_fields["role"])
        role_field.choices = [(role.slug, str(role)) for role in services.roles_grantable(_actor(request))]
        if obj is not None:
            form.base_fields["role"].initial = role_of(obj)
        return form

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # a deletion here keeps the agent's history: delete_agents
        return actions

    @admin.display(description=_("avatar"))
    def avatar_preview(self, obj: User) -> str:
        return format_html(
            '<img src="{}" alt="" width="64" height="64" style="border-radius:50%;object-fit:cover">', obj.avatar_url
        )

    @admin.display(description=_("role"))
    def role_name(self, obj: User) -> str:
        return ", ".join(str(group.role) for group in obj.groups.all() if hasattr(group, "role"))

    def create(self, request: HttpRequest, data: dict[str, Any]) -> User:
        return services.agent_create(
            enterprise=_actor(request).enterprise,  # type: ignore[arg-type]
            username=data["username"],
            password=data["password1"],
            nickname=data.get("nickname") or "",
            role=data["role"],
            actor=_actor(request),
            max_conversations=data.get("max_conversations"),
        )

    def update(self, request: HttpRequest, obj: User, data: dict[str, Any]) -> None:
        actor = _actor(request)
        services.agent_update(
            actor=actor,
            agent_id=obj.pk,
            nickname=data.get("nickname") or "",
            avatar=data.get("avatar") or "",
            max_conversations=data.get("max_conversations"),
            role=data["role"],
        )
        if data.get("avatar_file") is not None or data.get("avatar_clear"):  # wins over the URL field
            services.agent_avatar_set(actor=actor, agent_id=obj.pk, image=data.get("avatar_file"))
        if obj.is_active != User.objects.values_list("is_active", flat=True).get(pk=obj.pk):
            services.agent_active_set(actor=actor, agent_id=obj.pk, active=bool(data["is_active"]))

    def remove(self, request: HttpRequest, obj: User) -> None:
        services.agent_delete(actor=_actor(request), agent_id=obj.pk)  # type: ignore[arg-type]

    def _each(self, request: HttpRequest, queryset: QuerySet[Any], act: Any, done: Any) -> None:
        """Run `act` per agent, each in its own transaction: one refused (the last admin) fails alone."""
        count = 0
        for agent in queryset:
            try:
                act(agent.pk)
                count += 1
            except ChatError as refusal:
                self.message_user(request, f"{agent.username}: {refusal.message}", messages.ERROR)
        if count:
            self.message_user(request, done % {"count": count}, messages.SUCCESS)

    @admin.action(description=_("Disable selected agents"))
    def disable_agents(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self._each(
            request,
            queryset,
            lambda pk: services.agent_active_set(actor=_actor(request), agent_id=pk, active=False),
            _("%(count)d agents disabled."),
        )

    @admin.action(description=_("Enable selected agents"))
    def enable_agents(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self._each(
            request,
            queryset,
            lambda pk: services.agent_active_set(actor=_actor(request), agent_id=pk, active=True),
            _("%(count)d agents enabled."),
        )

    @admin.action(description=_("Delete selected agents (their history stays)"))
    def delete_agents(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self._each(
            request,
            queryset,
            lambda pk: services.agent_delete(actor=_actor(request), agent_id=pk),
            _("%(count)d agents deleted."),
        )

    def get_urls(self) -> list[Any]:
        return [
            path(
                "<path:object_id>/password/",
                self.admin_site.admin_view(self.password_reset_view),
                name="accounts_user_password_reset",
            ),
            *super().get_urls(),
        ]

    def password_reset_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Set a colleague's password: their tokens and sockets end at once."""
        agent = self.get_object(request, unquote(object_id))
        if agent is None or not self.has_change_permission(request, agent):
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)  # type: ignore[attr-defined]
        form = AgentPasswordForm(agent, request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                services.agent_password_reset(
                    actor=_actor(request), agent_id=agent.pk, password=form.cleaned_data["password1"]
                )  # type: ignore[arg-type]
            except ChatError as refusal:
                self.message_user(request, refusal.message, messages.ERROR)
            else:
                self.message_user(
                    request, _("Password set; %(name)s must log in again.") % {"name": agent.display_name}
                )
                return HttpResponseRedirect(reverse("manage:accounts_user_change", args=[agent.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Set a password: %(name)s") % {"name": agent.display_name},
            "form": form,
            "form_url": "",
            "is_popup": False,
            "add": False,
            "change": True,
            "has_delete_permission": False,
            "has_change_permission": True,
            "has_absolute_url": False,
            "opts": self.opts,
            "original": agent,
            "save_as": False,
            "show_save": True,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/auth/user/change_password.html", context)


class RoleForm(forms.ModelForm):  # type: ignore[type-arg]
    label = forms.CharField(label=_("name"), max_length=100)
    permissions = forms.MultipleChoiceField(
        label=_("permissions"), widget=forms.CheckboxSelectMultiple, choices=[], required=False
    )

    class Meta:
        model = RoleGroup
        fields = ("label",)


PERMISSION_LABELS = {
    "take": _("Take conversations from the queue"),
    "transfer": _("Transfer conversations"),
    "close": _("Close and reopen conversations"),
    "clear_history": _("Clear a visitor's history"),
    "block": _("Block visitors and addresses"),
    "manage_agents": _("Manage agents and roles"),
    "manage_settings": _("Change the enterprise's settings"),
}


class RoleManageAdmin(TenantModelAdmin):
    """The enterprise's own roles, composed from GoFly's permissions (the two default roles are everyone's)."""

    permission = permissions.MANAGE_AGENTS
    form = RoleForm
    list_display = ("label", "permission_names", "holders")
    search_fields = ("label",)
    fields = ("label", "permissions")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return (
            super().get_queryset(request).select_related("group").prefetch_related("group__permissions__content_type")
        )

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        held = set(permissions.permissions_of(request.user))
        form.base_fields["permissions"].choices = [  # type: ignore[attr-defined]
            (name, PERMISSION_LABELS[name]) for name in permissions.PERMISSIONS if name in held
        ]
        if obj is not None:
            granted = services.role_permissions(obj)
            form.base_fields["permissions"].initial = [
                name for name, perm in permissions.PERMISSIONS.items() if perm in granted
            ]
        return form

    @admin.display(description=_("permissions"))
    def permission_names(self, obj: RoleGroup) -> str:
        granted = {f"{perm.content_type.app_label}.{perm.codename}" for perm in obj.group.permissions.all()}
        return ", ".join(
            str(PERMISSION_LABELS[name]) for name, perm in permissions.PERMISSIONS.items() if perm in granted
        )

    @admin.display(description=_("agents"))
    def holders(self, obj: RoleGroup) -> int:
        return User.objects.filter(groups=obj.group_id, deleted_at=None).count()

    def create(self, request: HttpRequest, data: dict[str, Any]) -> RoleGroup:
        return services.role_save(actor=_actor(request), label=data["label"], permissions=list(data["permissions"]))  # type: ignore[arg-type]

    def update(self, request: HttpRequest, obj: RoleGroup, data: dict[str, Any]) -> None:
        services.role_save(
            actor=_actor(request),
            label=data["label"],
            permissions=list(data["permissions"]),
            role_id=obj.pk,
        )

    def remove(self, request: HttpRequest, obj: RoleGroup) -> None:
        services.role_delete(actor=_actor(request), role_id=obj.pk)  # type: ignore[arg-type]

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # one at a time, through role_delete's checks
        return actions


class AuditManageAdmin(TenantModelAdmin):
    """The enterprise's audit log: read only."""

    permission = permissions.MANAGE_AGENTS
    can_add = can_change = can_delete = False
    list_display = ("created_at", "actor_name", "action", "target_name", "address")
    list_filter = ("action",)
    search_fields = ("actor_name", "target_name")
    date_hierarchy = "created_at"
    readonly_fields = (
        "created_at",
        "actor_name",
        "action",
        "target_type",
        "target_id",
        "target_name",
        "address",
        "details",
    )
    fields = readonly_fields
    list_select_related = False

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        return {}


manage_site.register(User, AgentManageAdmin)
manage_site.register(RoleGroup, RoleManageAdmin)
manage_site.register(AuditEntry, AuditManageAdmin)
