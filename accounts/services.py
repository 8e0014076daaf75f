"""Writes about users and their roles."""

from __future__ import annotations

from django.apps import apps
from django.contrib.auth.management import create_permissions
from django.contrib.auth.models import Group, Permission
from django.db import DEFAULT_DB_ALIAS, transaction
from django.db.models import F, Q
from django.utils.translation import gettext as _

from core.errors import ChatError
from enterprises.models import Enterprise

from . import hooks
from .models import RoleGroup, User, username_normalise
from .permissions import DEFAULT_ROLES, ROLE_AGENT


def roles_ensure(*, using: str = DEFAULT_DB_ALIAS) -> dict[str, Group]:
    """Create the default roles' groups that are missing and give them their permissions; safe to repeat.

    Only adds (accounts/permissions.py says why). Runs after every migrate, flush included
    (accounts/apps.py), so the test database and a fresh install have the roles without asking.
    """
    wanted = {perm for role in DEFAULT_ROLES.values() for perm in role.permissions}
    with transaction.atomic(using=using):
        perms = _permissions_get(wanted, using=using)
        if len(perms) < len(wanted):
            # Django creates permissions after migrate app by app; this may run before the chat app's turn.
            for label in sorted({perm.partition(".")[0] for perm in wanted - perms.keys()}):
                create_permissions(apps.get_app_config(label), verbosity=0, using=using)
            perms = _permissions_get(wanted, using=using)
        missing = wanted - perms.keys()
        if missing:
            raise LookupError(f"permissions not declared by any model: {sorted(missing)}")
        groups = {}
        for slug, default in DEFAULT_ROLES.items():
            role = RoleGroup.objects.using(using).filter(slug=slug, enterprise=None).select_related("group").first()
            if role is None:
                group = Group.objects.using(using).get_or_create(name=default.group_name)[0]
                role = RoleGroup.objects.using(using).create(group=group, slug=slug)
            role.group.permissions.add(*(perms[perm] for perm in default.permissions))
            groups[slug] = role.group
        return groups


def _permissions_get(names: set[str], *, using: str) -> dict[str, Permission]:
    """{"app.codename": Permission} of those of `names` that exist."""
    match = Q()
    for name in names:
        app_label, _, codename = name.partition(".")
        match |= Q(content_type__app_label=app_label, codename=codename)
    found = Permission.objects.using(using).filter(match).select_related("content_type")
    return {f"{perm.content_type.app_label}.{perm.codename}": perm for perm in found}


@transaction.atomic
def agent_create(
    *, enterprise: Enterprise, username: str, password: str, nickname: str = "", role: str = ROLE_AGENT
) -> User:
    """An agent of `enterprise` in the role `role` (a slug: a default role's or one of the enterprise's own).
    The username is stored in its normal form; one that is another user's once normalised is refused."""
    role_group = RoleGroup.objects.get(Q(enterprise=None) | Q(enterprise=enterprise), slug=role)
    name = username_normalise(username)
    username_available_or_raise(name)
    user = User(username=name, enterprise=enterprise, nickname=nickname or username)
    user.set_password(password)
    user.save()
    user.groups.add(role_group.group_id)
    return user


def username_available_or_raise(name: str) -> None:
    """Refuse (409 `username_taken`) a normalised username another user has, however they spelled it: the
    database's own comparison (MariaDB's ignores case, accents and width) finds those that would collide."""
    if not name:
        raise ChatError("invalid", _("Enter a username."))
    if User.objects.filter(username=name).exists():
        raise ChatError("username_taken", _("This username is taken (letter case, width and accents aside)."), 409)


@transaction.atomic
def superadmin_create(*, username: str, password: str) -> User:
    """A platform superadmin: no enterprise, no role, every permission (is_superuser); works in /admin."""
    return User.objects.create_superuser(username=username, password=password, email="")


@transaction.atomic
def user_credentials_revoke(*, user: User) -> None:
    """The user's password or active flag changed: end their JWTs and close their open sockets.

    JWTs stop at their next use (they carry the old credentials_version); Django sessions already end
    by themselves (the session hash follows the password, and an inactive user is not loaded). Sockets
    authenticated once at connect, so every process is told to close them, after the commit.
    """
    User.objects.filter(pk=user.pk).update(credentials_version=F("credentials_version") + 1)
    user.credentials_version = User.objects.values_list("credentials_version", flat=True).get(pk=user.pk)
    hooks.credentials_revoked.send_on_commit(user)
