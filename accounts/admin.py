"""Admin for users and roles."""

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from . import lockout
from .models import Role, User


class LockoutAwareAdminAuthenticationForm(AdminAuthenticationForm):
    """The admin's login is throttled like the others; during a lock-out it says so, not "wrong password"."""

    def get_invalid_login_error(self) -> ValidationError:
        if lockout.locked_out(self.request):
            return ValidationError(lockout.lockout_message(), code="locked_out")
        return super().get_invalid_login_error()


admin.site.login_form = LockoutAwareAdminAuthenticationForm


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "nickname", "enterprise", "role", "is_active", "last_login")
    list_filter = ("enterprise", "role", "is_active", "is_superuser")
    search_fields = ("username", "nickname", "email")
    list_select_related = ("enterprise", "role")
    fieldsets = (
        *BaseUserAdmin.fieldsets,  # type: ignore[misc]
        (_("GoFly"), {"fields": ("enterprise", "role", "nickname", "avatar")}),
    )


@admin.register(Role)
class RoleAdmin(admin.ModelAdmin):
    list_display = ("name", "slug")
