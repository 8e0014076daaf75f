"""What an enterprise's suspension or new identity secret, or an agent's revoked credentials, do to open
sockets, on every process.

Sockets authenticate once, when they open; later requests and sockets check the enterprise themselves
(accounts.models.User.login_allowed, chat.access, chat.identity.visitor_token_fits). So when an
enterprise is suspended, every socket of its agents and visitors is told to close; when its identity
secret is set or changed, the visitor sockets whose token was issued under another secret (or none) are.
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save, pre_save

from accounts.models import User
from enterprises.identity import identity_fingerprint
from enterprises.models import Enterprise

from . import frames
from .realtime.broadcast import events_publish_on_commit


def _before(sender: type[Enterprise], instance: Enterprise, raw: bool, update_fields: Any, **kwargs: Any) -> None:
    instance._gofly_was = None  # type: ignore[attr-defined]
    if raw or instance._state.adding:
        return
    if update_fields is not None and not {"is_active", "identity_secret"} & set(update_fields):
        return
    instance._gofly_was = (  # type: ignore[attr-defined]
        Enterprise.objects.filter(pk=instance.pk).values_list("is_active", "identity_secret").first()
    )


def _after(sender: type[Enterprise], instance: Enterprise, created: bool, raw: bool, **kwargs: Any) -> None:
    was = getattr(instance, "_gofly_was", None)
    instance._gofly_was = None  # type: ignore[attr-defined]
    if was is None:
        return
    was_active, old_secret = was
    events: list[tuple[str, dict[str, Any]]] = []
    if was_active and not instance.is_active:
        events.append((frames.group_agents(instance.pk), frames.agent_revoked_event(suspended=True)))
        events.append((frames.group_visitors(instance.pk), frames.visitor_revoked_event()))
    elif instance.identity_secret and instance.identity_secret != old_secret:
        fingerprint = identity_fingerprint(instance.identity_secret)
        events.append((frames.group_visitors(instance.pk), frames.visitor_revoked_event(fingerprint)))
    if events:
        events_publish_on_commit(events)


def connect() -> None:
    """ChatConfig.ready: listen to every save of an enterprise (the admin, services, scripts)."""
    pre_save.connect(_before, sender=Enterprise, dispatch_uid="chat.tenants.before")
    post_save.connect(_after, sender=Enterprise, dispatch_uid="chat.tenants.after")


def agent_sockets_close(user: User) -> None:
    """accounts.hooks.credentials_revoked: every process closes the user's sockets (they authenticated once,
    at connect)."""
    events_publish_on_commit([(frames.group_agent(user.pk), frames.agent_revoked_event())])
