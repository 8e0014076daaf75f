"""Application config for the WeChat channel: connects what it sends to followers (outbound) and agents (alerts),
and the visitor page's web authorisation (oauth)."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WechatConfig(AppConfig):
    name = "wechat"
    verbose_name = _("WeChat")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from chat import hooks

        from . import alerts, oauth, outbound

        hooks.messages_stored.connect(outbound.deliveries_store)
        hooks.messages_committed.connect(outbound.deliveries_submit)
        hooks.periodic_chore.connect(outbound.on_heartbeat)
        hooks.periodic_chore.connect(alerts.on_heartbeat)
        hooks.visitor_page_opened.connect(oauth.page_redirect)
