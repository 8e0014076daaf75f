"""Application config for enterprises (tenants), their settings and IP blacklists."""

from django.apps import AppConfig


class EnterprisesConfig(AppConfig):
    name = "enterprises"
    default_auto_field = "django.db.models.BigAutoField"
