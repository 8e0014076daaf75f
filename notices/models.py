"""Notification state: each agent's e-mail alert setting and how far their alerts have got; the platform's
announcements to agents and who has read them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AgentAlerts(models.Model):
    """One agent's e-mail alerts: opted in or not, in which language, and the sweep's bookkeeping.

    `alerted_up_to` is the id of the last message the agent has been told about (or that was considered
    and needed no mail). A sweep claims the row with `lease_until` (a conditional UPDATE, so one sender
    at a time on every process and database), sends, and only then advances `alerted_up_to`: a process
    that dies between the SMTP server's "250 OK" and that record sends the same digest once more when
    the lease has expired (at least once; the repeat carries the same Message-ID).
    """

    agent = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="alerts",
        verbose_name=_("agent"),
    )
    enterprise = models.ForeignKey(
        "enterprises.Enterprise", on_delete=models.CASCADE, related_name="+", verbose_name=_("enterprise")
    )
    email_enabled = models.BooleanField(_("e-mail alerts"), default=False)
    language = models.CharField(_("language"), max_length=10, blank=True, default="")
    alerted_up_to = models.BigIntegerField(default=0, editable=False, verbose_name=_("alerted up to message"))
    last_sent_at = models.DateTimeField(_("last alert sent"), null=True, blank=True, editable=False)
    lease_until = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("lease until"))
    failures = models.PositiveIntegerField(default=0, editable=False, verbose_name=_("failures"))
    next_attempt_at = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("next attempt at"))
    last_error = models.CharField(_("last error"), max_length=300, blank=True, default="", editable=False)

    class Meta:
        verbose_name = _("agent e-mail alerts")
        verbose_name_plural = _("agents' e-mail alerts")
        indexes = [models.Index(fields=["email_enabled", "next_attempt_at"], name="alerts_due")]

    def __str__(self) -> str:
        return f"alerts of {self.agent_id}: {'on' if self.email_enabled else 'off'}"


class Announcement(models.Model):
    """A system announcement (公告) from the platform to the agents of every enterprise or of chosen ones,
    shown on their console, newest first, until it expires. Written by notices.announcements only."""

    title = models.CharField(_("title"), max_length=200)
    content = models.TextField(_("content"), max_length=20000, help_text=_("Rich text: bold, italic, lists, links."))
    enterprises = models.ManyToManyField(
        "enterprises.Enterprise",
        blank=True,
        related_name="+",
        verbose_name=_("enterprises"),
        help_text=_("Empty: every enterprise."),
    )
    published_at = models.DateTimeField(_("published at"), default=timezone.now, editable=False, db_index=True)
    expires_at = models.DateTimeField(_("shown until"), null=True, blank=True, help_text=_("Empty: until deleted."))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
        verbose_name=_("created by"),
    )

    class Meta:
        verbose_name = _("announcement")
        verbose_name_plural = _("announcements")
        ordering = ["-published_at", "-id"]

    def __str__(self) -> str:
        return self.title


class AnnouncementRead(models.Model):
    """An agent has seen an announcement (its unread mark goes)."""

    announcement = models.ForeignKey(
        Announcement, on_delete=models.CASCADE, related_name="reads", verbose_name=_("announcement")
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("agent")
    )
    read_at = models.DateTimeField(default=timezone.now, verbose_name=_("read at"))

    class Meta:
        constraints = [models.UniqueConstraint(fields=["announcement", "agent"], name="uniq_announcement_read")]

    def __str__(self) -> str:
        return f"{self.announcement_id} read by {self.agent_id}"
