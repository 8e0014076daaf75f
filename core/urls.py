"""Routes of the probes, included by gofly_site/urls.py."""

from django.urls import path

from . import probes

urlpatterns = [
    path("healthz", probes.healthz, name="healthz"),
    path("readyz", probes.readyz, name="readyz"),
]
