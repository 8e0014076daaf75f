"""Admin for users; roles are Django's groups, in Django's own Group admin."""

from typing import Any

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from . import lockout
from .models import User


class LockoutAwareAdminAuthenticationForm(AdminAuthenticationForm):
    """The admin's login is throttled like the others; during a lock-out it says so, not "wrong password"."""

    def get_invalid_login_error(self) -> ValidationError:
        refusal = lockout.login_refusal(self.request)
        if refusal is not None:
            return ValidationError(refusal[0], code="locked_out")
        return super().get_invalid_login_error()


admin.site.login_form = LockoutAwareAdminAuthenticationForm


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
