"""Admin for users and roles."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from .models import Role, User


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
