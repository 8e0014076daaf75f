"""Application config for the WeChat official-account channel (filled by later issues)."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WechatConfig(AppConfig):
    name = "wechat"
    verbose_name = _("WeChat")
    default_auto_field = "django.db.models.BigAutoField"
