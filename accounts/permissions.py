"""The permissions GoFly checks, the default roles that hold them, and the two ways to ask.

Roles are Django groups: a user holds a permission through a group (or, by hand in /admin, directly),
and Django's ModelBackend answers `has_perm`. Every check in the code names a constant of this module,
never a bare string, and goes through `require` (services) or `permissions_of` (what the console
shows).

Which groups are roles: `accounts.RoleGroup` gives a group a stable `slug` (its `name` is for people
and may be renamed in /admin) and an `enterprise`:

- `enterprise` empty: a default role, one of `DEFAULT_ROLES`, shared by every enterprise.
  `accounts.services.roles_ensure` creates them and adds their permissions after every `migrate`
  (and at `manage.py install`); it only adds, so a permission a superadmin added by hand stays, and a
  permission new in `DEFAULT_ROLES` reaches existing installations at their next migrate.
- `enterprise` set: a custom role of that enterprise (a later issue: its admin composes one from
  `PERMISSIONS`). Only its own agents may be put in it (`agent_create` looks roles up among the
  defaults and the agent's enterprise's). Slugs and group names are unique across the platform, so
  a custom role's are prefixed with its enterprise's id (e.g. slug "12-supervisor").

Permissions are not scoped to an enterprise: a permission says what a user may do, the tenant-scoped
lookups of the selectors say to which rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.errors import forbidden

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from .models import User

TAKE = "chat.take_conversation"
TRANSFER = "chat.transfer_conversation"
CLOSE = "chat.close_conversation"  # closing and reopening
CLEAR_HISTORY = "chat.clear_visitor_history"
BLOCK = "chat.block_visitors"  # blocking visitors and addresses, and lifting blocks (chat.blacklist)
MANAGE_AGENTS = "enterprises.manage_agents"
MANAGE_SETTINGS = "enterprises.manage_settings"

# Short name -> permission; the short names are what the console and the API payloads carry.
PERMISSIONS: dict[str, str] = {
    "take": TAKE,
    "transfer": TRANSFER,
    "close": CLOSE,
    "clear_history": CLEAR_HISTORY,
    "block": BLOCK,
    "manage_agents": MANAGE_AGENTS,
    "manage_settings": MANAGE_SETTINGS,
}

ROLE_ENTERPRISE_ADMIN = "enterprise_admin"
ROLE_AGENT = "agent"


@dataclass(frozen=True)
class DefaultRole:
    """A role every installation has: the name of its group and the permissions it holds at least."""

    group_name: str
    permissions: tuple[str, ...]


# In order of precedence: a user in several roles is shown as the first.
DEFAULT_ROLES: dict[str, DefaultRole] = {
    ROLE_ENTERPRISE_ADMIN: DefaultRole("商户管理员 Enterprise admin", tuple(PERMISSIONS.values())),
    ROLE_AGENT: DefaultRole("客服 Agent", (TAKE, TRANSFER, CLOSE, BLOCK)),
}


def permissions_of(user: User | AnonymousUser) -> list[str]:
    """The short names of the permissions the user holds, in `PERMISSIONS` order.

    Two queries the first time, none after: ModelBackend caches a user's permissions on the object, so
    a long-lived object (a socket's agent) keeps what it had when first asked until `permissions_forget`.
    """
    if not user.is_active:
        return []
    if user.is_superuser:
        return list(PERMISSIONS)
    held = user.get_all_permissions()
    return [name for name, perm in PERMISSIONS.items() if perm in held]


def permissions_forget(user: User | AnonymousUser) -> None:
    """Drop the permissions ModelBackend cached on the user object: the next check reads them again (two
    queries). For an object that outlives its request, a socket's agent, whose role may change meanwhile."""
    for cache in ("_perm_cache", "_user_perm_cache", "_group_perm_cache"):
        user.__dict__.pop(cache, None)


def require(user: User | AnonymousUser, perm: str) -> None:
    """Refuse (403 `forbidden`) unless the user holds `perm`, one of this module's constants."""
    if perm not in _KNOWN:
        # A typo would refuse everyone but superusers, and tests logged in as one would not notice.
        raise ValueError(f"unknown permission {perm!r}; name it in accounts/permissions.py")
    if not user.has_perm(perm):
        raise forbidden()


_KNOWN = frozenset(PERMISSIONS.values())
