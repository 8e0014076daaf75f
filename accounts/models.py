"""Agents (客服), administrators and the groups that are their roles."""

from __future__ import annotations

import re
import unicodedata
from typing import Any, ClassVar

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.utils.translation import gettext_lazy as _

from core.safety import avatar_or, validate_avatar_url

DEFAULT_AGENT_AVATAR = "/static/img/agent.svg"

# Code points that show nothing (Unicode's default-ignorables that are not format characters, which go by
# their category): combining grapheme joiner, Hangul fillers, Khmer vowels inherent, Mongolian and other
# variation selectors.
_INVISIBLE = re.compile("[\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u3164\ufe00-\ufe0f\uffa0\U000e0100-\U000e01ef]")
_USERNAME_MAX = 150


def username_normalise(value: str) -> str:
    """The one spelling of a username: NFKC (full-width letters are letters), case-folded, without
    invisible characters (zero-width spaces, joiners, BOMs, fillers) or surrounding spaces. Usernames are
    stored so, and logins, lock-out counts and device cookies use it, so no other spelling of an account
    reaches it or counts apart from it."""
    value = unicodedata.normalize("NFKC", value[: _USERNAME_MAX * 4])
    value = "".join(ch for ch in value if unicodedata.category(ch) not in ("Cf", "Cc", "Cs", "Co", "Cn"))
    value = _INVISIBLE.sub("", value)
    return unicodedata.normalize("NFKC", value.casefold()).strip()


class AgentUserManager(UserManager["User"]):
    def get_by_natural_key(self, username: str | None) -> User:
        """The account whose username is exactly `username` once normalised. The database's collation
        (MariaDB's is accent- and width-insensitive) may find `kefu2` for `kéfu2`: that is no match, so
        a respelling can neither log in nor count its failures apart (accounts.lockout)."""
        name = username_normalise(username or "")
        user = self.get(**{self.model.USERNAME_FIELD: name})
        if username_normalise(user.username) != name:
            raise self.model.DoesNotExist
        return user


class RoleGroup(models.Model):
    """Makes a Django group a role: a stable slug, and the enterprise of a custom role (accounts/permissions.py)."""

    group = models.OneToOneField("auth.Group", on_delete=models.CASCADE, related_name="role", verbose_name=_("group"))
    slug = models.SlugField(_("slug"), unique=True)
    # What an enterprise's admins call a custom role (its group's name carries the enterprise's id, to stay
    # unique across the platform); empty for the default roles, shown by their group's name.
    label = models.CharField(_("name"), max_length=100, blank=True, default="")
    # Empty for the default roles every enterprise shares.
    enterprise = models.ForeignKey(
        "enterprises.Enterprise",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="roles",
        verbose_name=_("enterprise"),
    )

    class Meta:
        verbose_name = _("role")
        verbose_name_plural = _("roles")

    def __str__(self) -> str:
        return self.label or self.group.name


class AgentStatus(models.TextChoices):
    """What an agent chose in the console; shown as offline anyway while none of their sockets is open."""

    ONLINE = "online", _("online")
    AWAY = "away", _("away")
    OFFLINE = "offline", _("offline")


class User(AbstractUser):
    """A platform user: a superadmin (no enterprise) or an agent / admin of one enterprise."""

    enterprise = models.ForeignKey(
        "enterprises.Enterprise",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="agents",
        verbose_name=_("enterprise"),
    )
    nickname = models.CharField(_("nickname"), max_length=50, blank=True, default="")
    avatar = models.CharField(
        _("avatar URL"), max_length=300, blank=True, default=DEFAULT_AGENT_AVATAR, validators=[validate_avatar_url]
    )
    # Bumped whenever the password or is_active changes (accounts/signals.py). JWTs carry the value they
    # were issued with and stop working once it moved on, deactivate-then-reactivate included.
    credentials_version = models.PositiveIntegerField(default=0, editable=False, verbose_name=_("credentials version"))
    status = models.CharField(_("status"), max_length=10, choices=AgentStatus.choices, default=AgentStatus.ONLINE)
    max_conversations = models.PositiveSmallIntegerField(
        _("concurrent conversations"),
        null=True,
        blank=True,
        help_text=_("How many open conversations routing gives this agent at once; empty: the enterprise's limit."),
    )
    # When routing last gave this agent a conversation: ties between equally loaded agents go to the one
    # who waited longest.
    last_assigned_at = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("last assigned at"))
    # The console's language, the agent's choice (accounts.views.profile); empty: as the browser asks.
    language = models.CharField(
        _("language"),
        max_length=10,
        blank=True,
        default="",
        choices=[("", _("As my browser asks")), ("zh-hans", "简体中文"), ("en", "English")],
    )
    # Set when an enterprise admin deleted the agent (accounts.services.agent_delete): the row stays, so the
    # messages and conversations they handled keep their name; they can never log in again, and their
    # username is freed.
    deleted_at = models.DateTimeField(_("deleted at"), null=True, blank=True, editable=False)

    objects: ClassVar[AgentUserManager] = AgentUserManager()  # type: ignore[assignment]

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    @classmethod
    def normalize_username(cls, username: Any) -> Any:
        # Django calls this when a user is created (create_user) and cleaned (the admin's forms).
        return username_normalise(username) if isinstance(username, str) else username

    def login_allowed(self) -> bool:
        """Active, and so is their enterprise (superadmins have none): a suspended enterprise's agents can
        neither log in nor use a session, a JWT or a socket. Needs `enterprise` loaded for an agent."""
        enterprise = self.enterprise if self.enterprise_id is not None else None
        return bool(self.is_active) and (enterprise is None or enterprise.is_active)

    @property
    def display_name(self) -> str:
        return self.nickname or self.username

    @property
    def avatar_url(self) -> str:
        """The avatar to emit: rows written before the validator (or past it, by a script) may hold anything."""
        return avatar_or(self.avatar, DEFAULT_AGENT_AVATAR)

    def conversation_limit(self) -> int:
        """Open conversations routing may give this agent; 0 is no limit. Needs `enterprise` loaded."""
        if self.max_conversations is not None:
            return self.max_conversations
        enterprise = self.enterprise if self.enterprise_id else None  # no query for a superadmin
        return enterprise.max_conversations_per_agent if enterprise is not None else 0

    @property
    def is_agent(self) -> bool:
        return self.enterprise_id is not None and self.is_active


class LoginNetwork(models.Model):
    """A network an account has logged in from (accounts.lockout): logins from it skip the account's delay."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="login_networks", verbose_name=_("user"))
    network = models.CharField(max_length=43, verbose_name=_("network"))
    last_login_at = models.DateTimeField(verbose_name=_("last login at"))

    class Meta:
        verbose_name = _("login network")
        verbose_name_plural = _("login networks")
        constraints = [models.UniqueConstraint(fields=["user", "network"], name="uniq_login_network")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.network}"
