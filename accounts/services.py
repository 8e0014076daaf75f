"""Writes about users and their roles."""

from __future__ import annotations

from django.apps import apps
from django.contrib.auth.management import create_permissions
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.crypto import get_random_string
from django.utils.text import slugify
from django.utils.translation import gettext as _

from core.errors import ChatError, forbidden, not_found
from core.files import Inspected
from core.jsonin import row_id
from enterprises.audit import audit_record
from enterprises.models import AuditAction, Enterprise

from . import avatars, hooks
from .models import DEFAULT_AGENT_AVATAR, RoleGroup, User, username_normalise
from .permissions import DEFAULT_ROLES, MANAGE_AGENTS, PERMISSIONS, ROLE_AGENT, require


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
    if not names:  # an empty Q() matches every permission: a role composed of none would get them all
        return {}
    match = Q()
    for name in names:
        app_label, _, codename = name.partition(".")
        match |= Q(content_type__app_label=app_label, codename=codename)
    found = Permission.objects.using(using).filter(match).select_related("content_type")
    return {f"{perm.content_type.app_label}.{perm.codename}": perm for perm in found}


@transaction.atomic
def agent_create(
    *,
    enterprise: Enterprise,
    username: str,
    password: str,
    nickname: str = "",
    role: str = ROLE_AGENT,
    actor: User | None = None,
    max_conversations: int | None = None,
) -> User:
    """An agent of `enterprise` in the role `role` (a slug: a default role's or one of the enterprise's own).
    The username is stored in its normal form; one that is another user's once normalised is refused.

    With an `actor` (an enterprise admin in the management area): they must manage agents, may give no role
    above their own, and the enterprise's cap on agents (`Enterprise.max_agents`) holds; audited."""
    enterprise = Enterprise.objects.select_for_update().get(pk=enterprise.pk)  # one add at a time against the cap
    role_group = (
        RoleGroup.objects.select_related("group")
        .filter(Q(enterprise=None) | Q(enterprise=enterprise), slug=role)
        .first()
    )
    if role_group is None:
        raise not_found(_("Role"))
    if actor is not None:
        require(actor, MANAGE_AGENTS)
        _same_enterprise_or_raise(actor, enterprise.pk)
        _role_grantable_or_raise(actor, role_group)
    if enterprise.max_agents is not None and agents_counted(enterprise.pk) >= enterprise.max_agents:
        raise ChatError(
            "agent_cap",
            _("Your enterprise may have at most %(max)d agents (deleted ones aside); ask the platform to raise it.")
            % {"max": enterprise.max_agents},
            409,
        )
    name = username_normalise(username)
    username_available_or_raise(name)
    user = User(
        username=name, enterprise=enterprise, nickname=nickname or username, max_conversations=max_conversations
    )
    user.set_password(password)
    user.save()
    user.groups.add(role_group.group_id)
    if actor is not None:
        _audit(actor, AuditAction.AGENT_CREATED, user, role=role_group.slug)
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


# --- an agent's own account ----------------------------------------------------------------------------


@transaction.atomic
def profile_update(*, user: User, nickname: str, avatar: str, language: str) -> User:
    """The agent's own display name, avatar and console language (validated by accounts.forms.ProfileForm)."""
    previous = User.objects.select_for_update().values_list("avatar", flat=True).get(pk=user.pk)
    User.objects.filter(pk=user.pk).update(nickname=nickname, avatar=avatar, language=language)
    user.nickname, user.avatar, user.language = nickname, avatar, language
    if previous != avatar:
        avatars.avatar_release(previous)
    return user


@transaction.atomic
def agent_avatar_set(*, actor: User, agent_id: object, image: Inspected | None) -> User:
    """Set an agent's avatar to an uploaded image (made by accounts.avatars.avatar_image, which checked and
    re-encoded it), or back to the default one (None). Anyone may change their own; someone else's only an
    enterprise admin of theirs who manages agents and holds all the agent's permissions (another
    enterprise's agent answers like a missing one). The replaced upload's file goes after the commit; audited."""
    agent = _avatar_owner(actor, agent_id)
    if agent.enterprise_id is None:  # never: an agent, or a colleague of the actor's enterprise
        raise forbidden()
    previous = agent.avatar
    if image is None and previous == DEFAULT_AGENT_AVATAR:
        return agent  # nothing to remove
    stored = avatars.avatar_store(enterprise_id=agent.enterprise_id, image=image) if image is not None else None
    try:
        agent.avatar = avatars.avatar_url(stored) if stored is not None else DEFAULT_AGENT_AVATAR
        agent.save(update_fields=["avatar"])
        if previous != agent.avatar:
            avatars.avatar_release(previous)
        _audit(actor, AuditAction.AGENT_CHANGED, agent, avatar=agent.avatar)
    except BaseException:
        if stored is not None:
            avatars.avatar_discard(stored)
        raise
    return agent


def _avatar_owner(actor: User, agent_id: object) -> User:
    """The agent whose avatar `actor` may set, locked for the change."""
    if row_id(agent_id) == actor.pk and actor.pk is not None:
        if not actor.is_agent:  # a superadmin has no enterprise to keep an avatar in
            raise forbidden()
        return User.objects.select_for_update().get(pk=actor.pk)
    agent = agent_managed(actor=actor, agent_id=agent_id)
    _not_above_or_raise(actor, agent)
    return agent


@transaction.atomic
def password_change(*, user: User, password: str) -> None:
    """The agent's own new password (the old one checked by the form): their other sessions, their tokens
    and their sockets end (accounts.signals); audited."""
    user.set_password(password)
    user.save(update_fields=["password"])
    audit_record(action=AuditAction.PASSWORD_CHANGED, actor=user)


# --- the team, as its enterprise admins manage it ---------------------------------------------------


def agents_counted(enterprise_id: int) -> int:
    """The agents an enterprise has against its cap: enabled and disabled, not deleted."""
    return User.objects.filter(enterprise_id=enterprise_id, deleted_at=None).count()


def _audit(actor: User, action: AuditAction, agent: User, **details: object) -> None:
    audit_record(
        action=action,
        actor=actor,
        enterprise_id=agent.enterprise_id,
        target_type="agent",
        target_id=agent.pk,
        target_name=agent.display_name,
        details=details,
    )


def _same_enterprise_or_raise(actor: User, enterprise_id: int | None) -> None:
    if actor.enterprise_id is None or actor.enterprise_id != enterprise_id:
        raise not_found(_("Agent"))


def _held(user: User) -> set[str]:
    """The GoFly permissions (app.codename) a user holds."""
    if user.is_superuser:
        return set(PERMISSIONS.values())
    return {perm for perm in user.get_all_permissions() if perm in PERMISSIONS.values()}


def role_permissions(role: RoleGroup) -> set[str]:
    """The GoFly permissions (app.codename) a role's group gives."""
    return {
        f"{app}.{codename}"
        for app, codename in role.group.permissions.values_list("content_type__app_label", "codename")
        if f"{app}.{codename}" in PERMISSIONS.values()
    }


def roles_grantable(actor: User) -> list[RoleGroup]:
    """The roles `actor` may give: the defaults and their enterprise's own, none holding a permission
    they do not hold themselves."""
    held = _held(actor)
    roles = RoleGroup.objects.filter(Q(enterprise=None) | Q(enterprise_id=actor.enterprise_id)).select_related("group")
    return [role for role in roles.order_by("enterprise_id", "pk") if role_permissions(role) <= held]


def _role_grantable_or_raise(actor: User, role: RoleGroup) -> None:
    if not role_permissions(role) <= _held(actor):
        raise ChatError("above_you", _("You cannot give a role with permissions you do not hold yourself."), 403)


def _not_above_or_raise(actor: User, agent: User) -> None:
    if not _held(agent) <= _held(actor):
        raise ChatError("above_you", _("This agent holds permissions you do not hold: you cannot change them."), 403)


def _keeps_an_admin(enterprise_id: int | None, *, without: User | None = None) -> bool:
    """Whether the enterprise has an enabled agent (other than `without`) who manages agents. Takes the
    enterprise's row lock first: two admins demoting each other at the same moment are served one after
    the other, and the second sees that the first is gone (Django runs MySQL in READ COMMITTED)."""
    if enterprise_id is None:
        return False
    Enterprise.objects.select_for_update().filter(pk=enterprise_id).first()
    holders = User.objects.filter(enterprise_id=enterprise_id, is_active=True, deleted_at=None)
    if without is not None:
        holders = holders.exclude(pk=without.pk)
    app_label, _dot, codename = MANAGE_AGENTS.partition(".")
    granted = Permission.objects.filter(content_type__app_label=app_label, codename=codename)
    return holders.filter(Q(groups__permissions__in=granted) | Q(user_permissions__in=granted)).exists()


def _last_admin_or_raise(agent: User) -> None:
    if MANAGE_AGENTS in _held(agent) and not _keeps_an_admin(agent.enterprise_id, without=agent):
        raise ChatError(
            "last_admin",
            _("%(name)s is the enterprise's last admin: make someone else an admin first.")
            % {"name": agent.display_name},
            409,
        )


def agent_managed(*, actor: User, agent_id: object) -> User:
    """The agent of the actor's enterprise the actor may manage, locked for the change; `not_found` for
    anyone else's (another enterprise's answers like a missing one)."""
    require(actor, MANAGE_AGENTS)
    agent = (
        User.objects.select_for_update()
        .filter(pk=row_id(agent_id) or -1, enterprise_id=actor.enterprise_id or -1, deleted_at=None)
        .first()
    )
    if agent is None:
        raise not_found(_("Agent"))
    return agent


_EDITABLE = ("nickname", "avatar", "max_conversations")


@transaction.atomic
def agent_update(
    *, actor: User, agent_id: int, nickname: str, avatar: str, max_conversations: int | None, role: str
) -> User:
    """An enterprise admin sets a colleague's name, avatar, limit (None: the enterprise's) and role. No one
    is raised above the admin, and the last admin stays one."""
    agent = agent_managed(actor=actor, agent_id=agent_id)
    _not_above_or_raise(actor, agent)
    previous_avatar = agent.avatar
    changed: dict[str, object] = {}
    for field, value in (("nickname", nickname), ("avatar", avatar), ("max_conversations", max_conversations)):
        if getattr(agent, field) != value:
            changed[field] = value
            setattr(agent, field, value)
    try:
        agent.clean_fields(exclude=[field.name for field in User._meta.fields if field.name not in _EDITABLE])
    except ValidationError as invalid:
        raise ChatError("invalid", " ".join(invalid.messages)) from None
    agent.save(update_fields=["nickname", "avatar", "max_conversations"])
    if "avatar" in changed:
        avatars.avatar_release(previous_avatar)
    current = list(RoleGroup.objects.filter(group__user=agent).select_related("group"))
    if [held.slug for held in current] != [role]:
        _role_set(actor, agent, role, current)
        changed["role"] = role
    if changed:
        _audit(actor, AuditAction.AGENT_CHANGED, agent, **changed)
    return agent


def _role_set(actor: User, agent: User, slug: str, current: list[RoleGroup]) -> None:
    role = (
        RoleGroup.objects.select_related("group")
        .filter(Q(enterprise=None) | Q(enterprise_id=agent.enterprise_id), slug=slug)
        .first()
    )
    if role is None:
        raise not_found(_("Role"))
    _role_grantable_or_raise(actor, role)
    if MANAGE_AGENTS in _held(agent) and MANAGE_AGENTS not in role_permissions(role):
        _last_admin_or_raise(agent)
    agent.groups.remove(*(held.group_id for held in current))
    agent.groups.add(role.group_id)
    # Django caches a user's permissions on the object: this one must be asked again.
    for cache in ("_perm_cache", "_group_perm_cache", "_user_perm_cache"):
        agent.__dict__.pop(cache, None)


@transaction.atomic
def agent_active_set(*, actor: User, agent_id: int, active: bool) -> User:
    """Disable (their sessions, tokens and sockets end at once: the credentials hook) or enable an agent."""
    agent = agent_managed(actor=actor, agent_id=agent_id)
    if agent.is_active == active:
        return agent
    _not_above_or_raise(actor, agent)
    if not active:
        if agent.pk == actor.pk:
            raise ChatError("self", _("You cannot disable yourself."), 409)
        _last_admin_or_raise(agent)
    agent.is_active = active
    agent.save(update_fields=["is_active"])  # accounts.signals revokes the credentials
    _audit(actor, AuditAction.AGENT_ENABLED if active else AuditAction.AGENT_DISABLED, agent)
    return agent


@transaction.atomic
def agent_password_reset(*, actor: User, agent_id: int, password: str) -> User:
    """An enterprise admin sets a colleague's password; their tokens and sockets end at once."""
    agent = agent_managed(actor=actor, agent_id=agent_id)
    _not_above_or_raise(actor, agent)
    agent.set_password(password)
    agent.save(update_fields=["password"])  # accounts.signals revokes the credentials
    _audit(actor, AuditAction.PASSWORD_RESET, agent)
    return agent


@transaction.atomic
def agent_delete(*, actor: User, agent_id: int) -> None:
    """Delete an agent but keep their history: the row stays (disabled, marked deleted, renamed so the
    username is free again), and the messages and conversations they handled keep their name."""
    agent = agent_managed(actor=actor, agent_id=agent_id)
    _not_above_or_raise(actor, agent)
    if agent.pk == actor.pk:
        raise ChatError("self", _("You cannot delete yourself."), 409)
    _last_admin_or_raise(agent)
    _audit(actor, AuditAction.AGENT_DELETED, agent, username=agent.username)
    agent.nickname = agent.display_name
    agent.username = f"deleted-{agent.pk}-{agent.username}"[:150]
    agent.is_active = False
    agent.deleted_at = timezone.now()
    agent.set_unusable_password()
    agent.save(update_fields=["nickname", "username", "is_active", "deleted_at", "password"])
    agent.groups.clear()


# --- custom roles --------------------------------------------------------------------------------------


def _codenames_or_raise(actor: User, names: object) -> set[str]:
    """The permissions (app.codename) of a list of short names, each one the actor holds."""
    if not isinstance(names, list | tuple | set) or not all(isinstance(name, str) for name in names):
        raise ChatError("invalid", _("Choose permissions from the list."))
    unknown = [name for name in names if name not in PERMISSIONS]
    if unknown:
        raise ChatError("invalid", _("Unknown permissions: %(names)s") % {"names": ", ".join(sorted(unknown))[:200]})
    wanted = {PERMISSIONS[name] for name in names}
    if not wanted <= _held(actor):
        raise ChatError("above_you", _("You cannot give a role with permissions you do not hold yourself."), 403)
    return wanted


def _label_or_raise(label: object) -> str:
    text = label.strip() if isinstance(label, str) else ""
    if not text or len(text) > 100:
        raise ChatError("invalid", _("Name the role (up to 100 characters)."))
    return text


@transaction.atomic
def role_save(*, actor: User, label: object, permissions: object, role_id: int | None = None) -> RoleGroup:
    """Create (no `role_id`) or change a custom role of the actor's enterprise, with permissions the actor
    holds; the enterprise keeps an admin whatever the change."""
    require(actor, MANAGE_AGENTS)
    text = _label_or_raise(label)
    wanted = _codenames_or_raise(actor, permissions)
    enterprise_id = actor.enterprise_id
    if enterprise_id is None:
        raise forbidden()
    taken = RoleGroup.objects.filter(enterprise_id=enterprise_id, label=text).exclude(pk=role_id or -1).exists()
    if taken:
        raise ChatError("name_taken", _("Your enterprise already has a role of this name."), 409)
    if role_id is None:
        slug = f"{enterprise_id}-{slugify(text)[:30] or 'role'}"
        while RoleGroup.objects.filter(slug=slug).exists():
            slug = f"{enterprise_id}-{slugify(text)[:30] or 'role'}-{get_random_string(6).lower()}"
        group = Group.objects.create(name=f"{enterprise_id}:{slug}"[:150])
        role = RoleGroup.objects.create(group=group, slug=slug, label=text, enterprise_id=enterprise_id)
        action = AuditAction.ROLE_CREATED
    else:
        found = (
            RoleGroup.objects.select_for_update()
            .select_related("group")
            .filter(pk=role_id, enterprise_id=enterprise_id)
            .first()
        )
        if found is None:
            raise not_found(_("Role"))
        role = found
        if not role_permissions(role) <= _held(actor):
            raise ChatError("above_you", _("This role holds permissions you do not hold: you cannot change it."), 403)
        role.label = text
        role.save(update_fields=["label"])
        action = AuditAction.ROLE_CHANGED
    perms = _permissions_get(wanted, using=DEFAULT_DB_ALIAS)
    role.group.permissions.set(perms.values())
    if MANAGE_AGENTS not in wanted and not _keeps_an_admin(enterprise_id):
        raise ChatError(
            "last_admin", _("The enterprise would have no admin left: keep this role's right to manage agents."), 409
        )
    audit_record(
        action=action,
        actor=actor,
        target_type="role",
        target_id=role.pk,
        target_name=text,
        details={"permissions": sorted(name for name, perm in PERMISSIONS.items() if perm in wanted)},
    )
    return role


@transaction.atomic
def role_delete(*, actor: User, role_id: int) -> None:
    """Delete a custom role no agent holds (move them first: an agent without a role could do nothing)."""
    require(actor, MANAGE_AGENTS)
    role = (
        RoleGroup.objects.select_for_update()
        .select_related("group")
        .filter(pk=role_id, enterprise_id=actor.enterprise_id or -1)
        .first()
    )
    if role is None:
        raise not_found(_("Role"))
    if not role_permissions(role) <= _held(actor):
        raise ChatError("above_you", _("This role holds permissions you do not hold: you cannot change it."), 403)
    holders = User.objects.filter(groups=role.group_id, deleted_at=None).count()
    if holders:
        raise ChatError(
            "role_in_use", _("%(count)d agents hold this role: give them another one first.") % {"count": holders}, 409
        )
    audit_record(
        action=AuditAction.ROLE_DELETED, actor=actor, target_type="role", target_id=role.pk, target_name=role.label
    )
    role.group.delete()  # the RoleGroup goes with it
