"""Application config for statistics: the daily message rollup (a periodic chore) and the reports."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StatsConfig(AppConfig):
    name = "stats"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = _("Statistics")

    def ready(self) -> None:
        from chat import hooks

        from .runner import on_heartbeat

        hooks.periodic_chore.connect(on_heartbeat)
