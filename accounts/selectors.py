"""Reads about agents: who a JWT or session belongs to."""

from __future__ import annotations

from typing import Any

from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import AccessToken

from .models import User


def agent_from_jwt(token: str) -> User | None:
    """The active agent an access token names, or None if the token is bad, expired or not an agent's."""
    try:
        user_id = AccessToken(token)["user_id"]  # type: ignore[arg-type]
    except (TokenError, KeyError):
        return None
    user = User.objects.filter(pk=user_id, is_active=True).select_related("enterprise").first()
    return user if user is not None and user.is_agent else None


def agent_payload(user: User) -> dict[str, Any]:
    return {
        "id": user.pk,
        "username": user.username,
        "name": user.display_name,
        "avatar": user.avatar,
        "enterprise_id": user.enterprise_id,
    }
