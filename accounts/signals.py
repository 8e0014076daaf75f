"""Noticing a password or active-flag change however it is saved (admin, set_password + save, scripts)."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver

from .models import User
from .services import user_credentials_revoke

_WATCHED = {"password", "is_active"}


@receiver(pre_save, sender=User, dispatch_uid="accounts.credentials_before")
def _credentials_before(sender: type[User], instance: User, raw: bool, update_fields: Any, **kwargs: Any) -> None:
    # A save of other fields only (last_login on every login) costs no extra query.
    instance._credentials_changed = False  # type: ignore[attr-defined]
    if raw or instance._state.adding or (update_fields is not None and not _WATCHED & set(update_fields)):
        return
    stored = User.objects.filter(pk=instance.pk).values_list("password", "is_active").first()
    # Any new hash counts, a rehash at login (hasher upgrade) too: Django ends other sessions then as well.
    instance._credentials_changed = stored is not None and stored != (  # type: ignore[attr-defined]
        instance.password,
        instance.is_active,
    )


@receiver(post_save, sender=User, dispatch_uid="accounts.credentials_after")
def _credentials_after(sender: type[User], instance: User, created: bool, raw: bool, **kwargs: Any) -> None:
    if getattr(instance, "_credentials_changed", False):
        instance._credentials_changed = False  # type: ignore[attr-defined]
        user_credentials_revoke(user=instance)
