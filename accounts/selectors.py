"""Reads about agents: who a JWT or session belongs to."""

from __future__ import annotations

from typing import Any

from rest_framework_simplejwt.exceptions import TokenError

from .models import User
from .tokens import AgentAccessToken, token_current


def agent_from_jwt(token: str) -> User | None:
    """The active agent an access token names, or None if the token is bad, expired, revoked (password
    changed, deactivated) or not an agent's."""
    try:
        access = AgentAccessToken(token)  # type: ignore[arg-type]
        user_id = access["user_id"]
    except (TokenError, KeyError):
        return None
    user = User.objects.filter(pk=user_id, is_active=True).select_related("enterprise").first()
    return user if user is not None and user.is_agent and token_current(user, access) else None


def agent_payload(user: User) -> dict[str, Any]:
    return {
        "id": user.pk,
        "username": user.username,
        "name": user.display_name,
        "avatar": user.avatar_url,
        "enterprise_id": user.enterprise_id,
    }
