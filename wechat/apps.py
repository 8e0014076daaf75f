"""Application config for the WeChat official-account channel (filled by later issues)."""

from django.apps import AppConfig


class WechatConfig(AppConfig):
    name = "wechat"
    default_auto_field = "django.db.models.BigAutoField"
