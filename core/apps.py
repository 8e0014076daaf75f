"""The ground floor: what every app may import, importing none of them."""

from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "GoFly core"
