"""The password check for agents and superadmins: Django's ModelBackend, plus the enterprise's state and
what a successful login tells the lock-out (accounts.lockout)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend

from . import lockout
from .models import User


class AgentModelBackend(ModelBackend):
    def authenticate(
        self, request: Any, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> Any:
        user = super().authenticate(request, username, password, **kwargs)
        if user is not None:
            lockout.login_succeeded(request, user)
        return user

    def user_can_authenticate(self, user: Any) -> bool:
        # An agent of a suspended enterprise is refused like an inactive one: at login, and on every
        # request of a session they already had (get_user).
        return super().user_can_authenticate(user) and isinstance(user, User) and user.login_allowed()

    def get_user(self, user_id: Any) -> Any:
        user = User._default_manager.select_related("enterprise").filter(pk=user_id).first()
        return user if user is not None and self.user_can_authenticate(user) else None
