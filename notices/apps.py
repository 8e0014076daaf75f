"""Application config for notices: e-mail alerts to away agents and the platform's announcements to agents."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NoticesConfig(AppConfig):
    name = "notices"
    verbose_name = _("Notices")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from chat import hooks

        from .runner import on_heartbeat

        hooks.periodic_chore.connect(on_heartbeat)
