"""Agents' e-mail alert settings in /admin (read mostly: the agent sets them in the console)."""

from __future__ import annotations

from django.contrib import admin

from .models import AgentAlerts


@admin.register(AgentAlerts)
class AgentAlertsAdmin(admin.ModelAdmin):
    list_display = ("agent", "enterprise", "email_enabled", "language", "last_sent_at", "failures")
    list_filter = ("email_enabled",)
    search_fields = ("agent__username", "agent__email")
    readonly_fields = ("alerted_up_to", "last_sent_at", "lease_until", "failures", "next_attempt_at", "last_error")
    raw_id_fields = ("agent", "enterprise")
