"""Agents (客服), administrators and the groups that are their roles."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from chat.safety import avatar_or, validate_avatar_url

DEFAULT_AGENT_AVATAR = "/static/img/agent.svg"


class RoleGroup(models.Model):
    """Makes a Django group a role: a stable slug, and the enterprise of a custom role (accounts/permissions.py)."""

    group = models.OneToOneField("auth.Group", on_delete=models.CASCADE, related_name="role")
    slug = models.SlugField(_("slug"), unique=True)
    # Empty for the default roles every enterprise shares.
    enterprise = models.ForeignKey(
        "enterprises.Enterprise", null=True, blank=True, on_delete=models.CASCADE, related_name="roles"
    )

    class Meta:
        verbose_name = _("role")
        verbose_name_plural = _("roles")

    def __str__(self) -> str:
        return self.slug


class AgentStatus(models.TextChoices):
    """What an agent chose in the console; shown as offline anyway while none of their sockets is open."""

    ONLINE = "online", _("online")
    AWAY = "away", _("away")
    OFFLINE = "offline", _("offline")


class User(AbstractUser):
    """A platform user: a superadmin (no enterprise) or an agent / admin of one enterprise."""

    enterprise = models.ForeignKey(
        "enterprises.Enterprise", null=True, blank=True, on_delete=models.CASCADE, related_name="agents"
    )
    nickname = models.CharField(_("nickname"), max_length=50, blank=True, default="")
    avatar = models.CharField(
        _("avatar URL"), max_length=300, blank=True, default=DEFAULT_AGENT_AVATAR, validators=[validate_avatar_url]
    )
    # Bumped whenever the password or is_active changes (accounts/signals.py). JWTs carry the value they
    # were issued with and stop working once it moved on, deactivate-then-reactivate included.
    credentials_version = models.PositiveIntegerField(default=0, editable=False)
    status = models.CharField(_("status"), max_length=10, choices=AgentStatus.choices, default=AgentStatus.ONLINE)
    max_conversations = models.PositiveSmallIntegerField(
        _("concurrent conversations"),
        null=True,
        blank=True,
        help_text=_("How many open conversations routing gives this agent at once; empty: the enterprise's limit."),
    )
    # When routing last gave this agent a conversation: ties between equally loaded agents go to the one
    # who waited longest.
    last_assigned_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

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
