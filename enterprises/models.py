"""Enterprises (商户, the tenants), their chat settings and IP blacklists."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Enterprise(models.Model):
    name = models.CharField(_("name"), max_length=100)
    welcome_text = models.TextField(
        _("welcome text"), blank=True, default="", help_text=_("Shown to every visitor when the chat opens.")
    )
    offline_text = models.TextField(
        _("offline text"), blank=True, default="", help_text=_("Shown to visitors while no agent is online.")
    )
    allowed_origins = models.TextField(
        _("allowed origins"),
        blank=True,
        default="",
        help_text=_(
            "One origin per line (https://shop.example.com) allowed to open visitor websockets; empty allows any."
        ),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("enterprise")
        verbose_name_plural = _("enterprises")

    def __str__(self) -> str:
        return f"{self.name} (#{self.pk})"

    def origin_allowed(self, origin: str | None) -> bool:
        allowed = {line.strip().rstrip("/") for line in self.allowed_origins.splitlines() if line.strip()}
        return not allowed or (origin or "").rstrip("/") in allowed


class IPBlacklist(models.Model):
    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="ip_blacklist")
    ip = models.GenericIPAddressField(_("IP address"))
    reason = models.CharField(_("reason"), max_length=200, blank=True, default="")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("blacklisted IP")
        verbose_name_plural = _("IP blacklist")
        constraints = [models.UniqueConstraint(fields=["enterprise", "ip"], name="uniq_blacklist_ip")]

    def __str__(self) -> str:
        return self.ip
