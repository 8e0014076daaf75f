"""Canned replies (in groups, enterprise-wide or personal), keyword rules and welcome texts."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

TEXT_MAX = 2000
TITLE_MAX = 100
KEYWORD_MAX = 100
WELCOME_MAX = 5000


class CannedGroup(models.Model):
    """A folder of canned replies: the enterprise's (owner empty, managed by its admins) or one agent's."""

    enterprise = models.ForeignKey(
        "enterprises.Enterprise", on_delete=models.CASCADE, related_name="+", verbose_name=_("enterprise")
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("owner"),
    )
    name = models.CharField(_("name"), max_length=TITLE_MAX)
    position = models.IntegerField(_("position"), default=0)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("canned reply group")
        verbose_name_plural = _("canned reply groups")
        ordering = ["position", "id"]
        indexes = [models.Index(fields=["enterprise", "owner"], name="cannedgroup_scope")]

    def __str__(self) -> str:
        return self.name


class CannedReply(models.Model):
    """A text an agent inserts from the composer; {visitor_name}, {agent_name}, {enterprise_name} are
    filled when it is inserted. Its scope (owner) is its group's."""

    enterprise = models.ForeignKey(
        "enterprises.Enterprise", on_delete=models.CASCADE, related_name="+", verbose_name=_("enterprise")
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("owner"),
    )
    group = models.ForeignKey(
        CannedGroup, null=True, blank=True, on_delete=models.CASCADE, related_name="replies", verbose_name=_("group")
    )
    title = models.CharField(_("title"), max_length=TITLE_MAX)
    content = models.TextField(_("content"), max_length=TEXT_MAX)
    position = models.IntegerField(_("position"), default=0)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("canned reply")
        verbose_name_plural = _("canned replies")
        ordering = ["position", "id"]
        indexes = [models.Index(fields=["enterprise", "owner"], name="cannedreply_scope")]

    def __str__(self) -> str:
        return self.title


class KeywordRule(models.Model):
    """A visitor message matching `keyword` (case-insensitive) is answered with `reply`, automatically."""

    class Match(models.TextChoices):
        EXACT = "exact", _("exact")
        CONTAINS = "contains", _("contains")

    enterprise = models.ForeignKey(
        "enterprises.Enterprise", on_delete=models.CASCADE, related_name="+", verbose_name=_("enterprise")
    )
    keyword = models.CharField(_("keyword"), max_length=KEYWORD_MAX)
    match = models.CharField(_("match"), max_length=10, choices=Match.choices, default=Match.CONTAINS)
    reply = models.TextField(_("reply"), max_length=TEXT_MAX)
    priority = models.IntegerField(_("priority"), default=0, help_text=_("Higher wins when several rules match."))
    enabled = models.BooleanField(_("enabled"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("keyword rule")
        verbose_name_plural = _("keyword rules")
        ordering = ["-priority", "id"]

    def __str__(self) -> str:
        return self.keyword


class WelcomeText(models.Model):
    """One of the enterprise's welcome texts, sanitised rich text (replies.sanitise), shown in order when
    a conversation opens: the only source of the welcome (the first is the `welcome` of answers that carry one
    text, for older clients)."""

    enterprise = models.ForeignKey(
        "enterprises.Enterprise", on_delete=models.CASCADE, related_name="+", verbose_name=_("enterprise")
    )
    content = models.TextField(_("content"), max_length=WELCOME_MAX)
    language = models.CharField(
        _("language"),
        max_length=10,
        blank=True,
        default="",
        choices=[("", _("every language")), *settings.LANGUAGES],
        help_text=_(
            "Shown to visitors who read this language; texts for every language are shown when none is "
            "written for the visitor's."
        ),
    )
    position = models.IntegerField(_("position"), default=0)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("welcome text")
        verbose_name_plural = _("welcome texts")
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.content[:60]
