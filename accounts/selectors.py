"""Reads about agents: who a JWT or session belongs to, what they are shown as and may do."""

from __future__ import annotations

from typing import Any

from rest_framework_simplejwt.exceptions import TokenError

from .models import RoleGroup, User
from .permissions import DEFAULT_ROLES, permissions_of
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


def role_of(user: User) -> str | None:
    """The slug of the user's role (one query); of several, a default role first, in DEFAULT_ROLES order."""
    slugs = sorted(RoleGroup.objects.filter(group__user=user).values_list("slug", flat=True))
    ranked = [slug for slug in DEFAULT_ROLES if slug in slugs] + [slug for slug in slugs if slug not in DEFAULT_ROLES]
    return ranked[0] if ranked else None


def agent_payload(user: User) -> dict[str, Any]:
    """The agent as the console sees itself. Queries the first time (role, permissions): not in async code."""
    return {
        "id": user.pk,
        "username": user.username,
        "name": user.display_name,
        "avatar": user.avatar_url,
        "enterprise_id": user.enterprise_id,
        "role": role_of(user),
        # The console hides what the agent may not do; the services refuse it anyway.
        "permissions": permissions_of(user),
    }
