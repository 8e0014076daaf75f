"""What accounts announces, for the apps above it to react to (core.hooks)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.hooks import Hook

if TYPE_CHECKING:
    from .models import User

credentials_revoked: Hook[User, None] = Hook("accounts.credentials_revoked")
"""A user's password changed, or they were disabled or deleted: after the commit. Chat closes their sockets."""
