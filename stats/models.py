"""The daily rollup of messages behind the statistics (conversations are read as they are: an enterprise has
a hundred times fewer of them)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class MessageDay(models.Model):
    """How many messages `sender` (visitor, agent, ...) wrote in an enterprise on a day of its time zone,
    per agent (0: not an agent's). Kept by stats.rollup.messages_roll_up; never edited."""

    enterprise = models.ForeignKey(
        "enterprises.Enterprise", on_delete=models.CASCADE, related_name="+", verbose_name=_("enterprise")
    )
    day = models.DateField(_("day"))
    agent_pk = models.BigIntegerField(
        default=0, verbose_name=_("agent id")
    )  # an id, not a key: a deleted agent's counts stay
    sender = models.CharField(max_length=10, verbose_name=_("sender"))
    count = models.PositiveIntegerField(default=0, verbose_name=_("count"))

    class Meta:
        verbose_name = _("statistics")
        verbose_name_plural = _("statistics")
        constraints = [
            models.UniqueConstraint(fields=["enterprise", "day", "agent_pk", "sender"], name="uniq_message_day")
        ]

    def __str__(self) -> str:
        return f"{self.enterprise_id} {self.day} {self.sender}: {self.count}"


class RollupMark(models.Model):
    """How far the rollup has got: the id of the last message counted."""

    name = models.CharField(max_length=40, unique=True, verbose_name=_("name"))
    last_id = models.BigIntegerField(default=0, verbose_name=_("last message id"))

    def __str__(self) -> str:
        return f"{self.name}: {self.last_id}"
