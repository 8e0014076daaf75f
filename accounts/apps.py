"""Application config for agents, roles and authentication."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.apps import apps as global_apps
from django.apps.registry import Apps
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Accounts and roles")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import signals  # noqa: F401  (connects the credential-change receivers)

        post_migrate.connect(_roles_after_migrate, sender=self, dispatch_uid="accounts.roles_after_migrate")


def _roles_after_migrate(sender: AppConfig, *, using: str, apps: Apps | None = None, **kwargs: Any) -> None:
    """The default roles after every migrate and flush: installs, upgrades and the test database have them."""
    try:
        (apps or global_apps).get_model("accounts", "RoleGroup")
    except LookupError:
        return  # migrated back to before roles were groups
    from .services import roles_ensure

    roles_ensure(using=using)
