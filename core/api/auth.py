"""DRF permission for the enterprise's agents (JWT or session); the visitor token's is chat's."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission


class IsAgent(BasePermission):
    message = "Only an enterprise's agents may use this endpoint."

    def has_permission(self, request: Any, view: Any) -> bool:
        user = request.user
        return bool(user is not None and getattr(user, "is_authenticated", False) and getattr(user, "is_agent", False))
