"""What every page knows of the platform: its system configuration (title, keywords, description, copyright)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from .selectors import system_config


def site(request: HttpRequest) -> dict[str, Any]:
    return {"site_config": system_config()}
