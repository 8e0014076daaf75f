"""Reads of the notices app: an agent's alert setting, and the team's for enterprise admins."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from accounts import permissions
from accounts.models import User

from .models import AgentAlerts


def _configured() -> bool:
    return bool(settings.EMAIL_HOST)


def alerts_payload(*, agent: User, row: AgentAlerts | None) -> dict[str, Any]:
    """What the console's status menu and GET /api/v1/agent/alerts show."""
    return {
        "email_enabled": bool(row and row.email_enabled),
        "email": agent.email,
        "language": (row.language if row and row.language else settings.LANGUAGE_CODE),
        # Without an SMTP host the setting is kept but nothing is sent; the console says so.
        "mail_configured": _configured(),
        "digest_minutes": float(settings.GOFLY["ALERT_DIGEST_MINUTES"]),
        "last_sent_at": row.last_sent_at.isoformat() if row and row.last_sent_at else None,
        "failing": bool(row and row.failures),
    }


def alerts_of(*, agent: User) -> dict[str, Any]:
    return alerts_payload(agent=agent, row=AgentAlerts.objects.filter(agent=agent).first())


def alerts_of_team(*, agent: User) -> list[dict[str, Any]]:
    """Every agent of the caller's enterprise with their alert setting (permission manage_agents); two
    queries whatever the size of the team."""
    permissions.require(agent, permissions.MANAGE_AGENTS)
    enterprise_id = agent.enterprise_id or 0  # IsAgent: always set
    rows = {r.agent_id: r for r in AgentAlerts.objects.filter(enterprise_id=enterprise_id)}
    team = User.objects.filter(enterprise_id=enterprise_id, is_active=True).order_by("pk")
    out = []
    for user in team:
        row = rows.get(user.pk)
        out.append(
            {
                "agent_id": user.pk,
                "username": user.username,
                "name": user.display_name,
                "email": user.email,
                "email_enabled": bool(row and row.email_enabled),
                "last_sent_at": row.last_sent_at.isoformat() if row and row.last_sent_at else None,
                "failing": bool(row and row.failures),
                "last_error": row.last_error if row else "",
            }
        )
    return out
