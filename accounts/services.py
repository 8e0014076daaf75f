"""Writes about users and roles."""

from __future__ import annotations

from django.db import transaction
from django.db.models import F

from chat import broadcast, frames
from enterprises.models import Enterprise

from .models import Role, User

DEFAULT_ROLES = {
    Role.SUPERADMIN: "超级管理员 Superadmin",
    Role.ENTERPRISE_ADMIN: "商户管理员 Enterprise admin",
    Role.AGENT: "客服 Agent",
}


@transaction.atomic
def roles_ensure() -> dict[str, Role]:
    return {
        slug: Role.objects.get_or_create(slug=slug, defaults={"name": name})[0] for slug, name in DEFAULT_ROLES.items()
    }


@transaction.atomic
def agent_create(
    *, enterprise: Enterprise, username: str, password: str, nickname: str = "", role_slug: str = Role.AGENT
) -> User:
    role = Role.objects.get(slug=role_slug)
    user = User(username=username, enterprise=enterprise, role=role, nickname=nickname or username)
    user.set_password(password)
    user.save()
    return user


@transaction.atomic
def superadmin_create(*, username: str, password: str) -> User:
    role = Role.objects.get(slug=Role.SUPERADMIN)
    user = User.objects.create_superuser(username=username, password=password, email="")
    user.role = role
    user.save(update_fields=["role"])
    return user


@transaction.atomic
def user_credentials_revoke(*, user: User) -> None:
    """The user's password or active flag changed: end their JWTs and close their open sockets.

    JWTs stop at their next use (they carry the old credentials_version); Django sessions already end
    by themselves (the session hash follows the password, and an inactive user is not loaded). Sockets
    authenticated once at connect, so every process is told to close them, after the commit.
    """
    User.objects.filter(pk=user.pk).update(credentials_version=F("credentials_version") + 1)
    user.credentials_version = User.objects.values_list("credentials_version", flat=True).get(pk=user.pk)
    broadcast.events_publish_on_commit([(frames.group_agent(user.pk), frames.agent_revoked_event())])
