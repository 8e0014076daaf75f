"""What every page knows of the platform: its system configuration (title, keywords, description, copyright)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from .selectors import system_config


def site(request: HttpRequest) -> dict[str, Any]:
    # Read when a template first asks: the error pages do not, so a 404 needs no database.
    return {"site_config": SimpleLazyObject(system_config)}
