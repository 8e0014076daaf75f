"""What an enterprise's suspension or new identity secret, or an agent's revoked credentials, do to open
sockets, on every process.

Sockets authenticate once, when they open; later requests and sockets check the enterprise themselves
(accounts.models.User.login_allowed, chat.access, chat.identity.visitor_token_fits). So when an
enterprise is suspended, every socket of its agents and visitors is told to close; when its identity
secrets change (set, rotated, or the previous one forgotten when a rotation's grace is over), the visitor
sockets whose token was issued under neither the current secret nor the previous one still in its grace
(or under none) are. A periodic chore forgets the previous secrets whose grace is over, which closes theirs.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from channels.db import database_sync_to_async
from django.db.models.signals import post_save, pre_save

from accounts.models import User
from enterprises.identity import identity_fingerprint, identity_secret_previous_live
from enterprises.models import Enterprise
from enterprises.services import enterprise_identity_previous_expire

from . import frames, hooks
from .realtime.broadcast import events_publish_on_commit

logger = logging.getLogger(__name__)
_WATCHED = ("is_active", "identity_secret", "identity_secret_previous")


def _before(sender: type[Enterprise], instance: Enterprise, raw: bool, update_fields: Any, **kwargs: Any) -> None:
    instance._gofly_was = None  # type: ignore[attr-defined]
    if raw or instance._state.adding:
        return
    if update_fields is not None and not set(_WATCHED) & set(update_fields):
        return
    instance._gofly_was = Enterprise.objects.filter(pk=instance.pk).values_list(*_WATCHED).first()  # type: ignore[attr-defined]


def _after(sender: type[Enterprise], instance: Enterprise, created: bool, raw: bool, **kwargs: Any) -> None:
    was = getattr(instance, "_gofly_was", None)
    instance._gofly_was = None  # type: ignore[attr-defined]
    if was is None:
        return
    was_active, *old_secrets = was
    events: list[tuple[str, dict[str, Any]]] = []
    if was_active and not instance.is_active:
        events.append((frames.group_agents(instance.pk), frames.agent_revoked_event(suspended=True)))
        events.append((frames.group_visitors(instance.pk), frames.visitor_revoked_event()))
    elif instance.identity_secret and [instance.identity_secret, instance.identity_secret_previous] != old_secrets:
        fingerprint = identity_fingerprint(instance.identity_secret)
        kept = identity_fingerprint(identity_secret_previous_live(instance))
        events.append((frames.group_visitors(instance.pk), frames.visitor_revoked_event(fingerprint, also=kept)))
    if events:
        events_publish_on_commit(events)


def connect() -> None:
    """ChatConfig.ready: listen to every save of an enterprise (the admin, services, scripts)."""
    pre_save.connect(_before, sender=Enterprise, dispatch_uid="chat.tenants.before")
    post_save.connect(_after, sender=Enterprise, dispatch_uid="chat.tenants.after")
    hooks.periodic_chore.connect(identity_previous_chore)


IDENTITY_CHORE_EVERY = 60.0  # seconds between two looks for previous identity secrets whose grace is over
_identity_chore_done = 0.0


async def identity_previous_chore(_: None = None) -> None:
    """chat.hooks.periodic_chore: forget the previous identity secrets whose grace is over, which closes
    their visitors' sockets on every process (_after). Every process may run it: enterprises.services
    clears (and so announces) each one once."""
    global _identity_chore_done
    now = time.monotonic()
    if now - _identity_chore_done < IDENTITY_CHORE_EVERY:
        return
    _identity_chore_done = now
    cleared = await database_sync_to_async(enterprise_identity_previous_expire)()
    if cleared:
        logger.info("previous identity secrets forgotten, their grace over: enterprises %s", cleared)


def agent_sockets_close(user: User) -> None:
    """accounts.hooks.credentials_revoked: every process closes the user's sockets (they authenticated once,
    at connect)."""
    events_publish_on_commit([(frames.group_agent(user.pk), frames.agent_revoked_event())])
