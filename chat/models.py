"""Visitors and their messages: the persisted half of the chat."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Visitor(models.Model):
    enterprise = models.ForeignKey("enterprises.Enterprise", on_delete=models.CASCADE, related_name="visitors")
    # The public id (a UUID we issue, or the operator's own id); the primary key never leaves the server.
    visitor_id = models.CharField(_("visitor id"), max_length=64)
    name = models.CharField(_("name"), max_length=100)
    avatar = models.CharField(_("avatar URL"), max_length=300, blank=True, default="")
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="visitors",
        help_text=_("The agent the visitor asked for (kefu_id) or was last assigned to."),
    )
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    city = models.CharField(_("location"), max_length=100, blank=True, default="")
    user_agent = models.CharField(_("user agent"), max_length=500, blank=True, default="")
    referrer = models.CharField(_("referrer"), max_length=1000, blank=True, default="")
    landing_page = models.CharField(_("landing page"), max_length=1000, blank=True, default="")
    extra = models.JSONField(_("extra"), default=dict, blank=True)
    visits = models.PositiveIntegerField(_("visits"), default=1)
    created_at = models.DateTimeField(_("first visit"), auto_now_add=True)
    updated_at = models.DateTimeField(_("last visit"), auto_now=True)
    last_message_at = models.DateTimeField(_("last message"), null=True, blank=True)

    class Meta:
        verbose_name = _("visitor")
        verbose_name_plural = _("visitors")
        constraints = [models.UniqueConstraint(fields=["enterprise", "visitor_id"], name="uniq_visitor_public_id")]
        indexes = [models.Index(fields=["enterprise", "-last_message_at"], name="visitor_recent")]

    def __str__(self) -> str:
        return f"{self.name} ({self.visitor_id})"


class Message(models.Model):
    class Sender(models.TextChoices):
        VISITOR = "visitor", _("visitor")
        AGENT = "agent", _("agent")
        SYSTEM = "system", _("system")

    class Kind(models.TextChoices):
        TEXT = "text", _("text")

    enterprise = models.ForeignKey("enterprises.Enterprise", on_delete=models.CASCADE, related_name="+")
    visitor = models.ForeignKey(Visitor, on_delete=models.CASCADE, related_name="messages")
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sender = models.CharField(_("sender"), max_length=10, choices=Sender.choices)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.TEXT)
    content = models.TextField(_("content"))
    # Chosen by the sending client; a resend with the same id is stored once.
    client_id = models.CharField(_("client id"), max_length=64)
    created_at = models.DateTimeField(_("sent at"), auto_now_add=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        constraints = [
            models.UniqueConstraint(fields=["visitor", "sender", "client_id"], name="uniq_message_client_id")
        ]
        indexes = [
            models.Index(fields=["visitor", "id"], name="message_visitor_id"),
            models.Index(fields=["enterprise", "id"], name="message_enterprise_id"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.sender}: {self.content[:40]}"
