"""Noticing a password or active-flag change however it is saved (admin, set_password + save, scripts),
recording logins and failed logins in the audit log, and removing the uploaded avatar of a deleted row."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from enterprises.audit import audit_record
from enterprises.models import AuditAction

from . import avatars, lockout
from .models import User, username_normalise
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


@receiver(user_logged_in, dispatch_uid="accounts.audit_login")
def _audit_login(sender: Any, request: Any, user: User, **kwargs: Any) -> None:
    audit_record(action=AuditAction.LOGIN, actor=user, details={"via": "session"})


@receiver(user_login_failed, dispatch_uid="accounts.audit_login_failed")
def _audit_login_failed(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    """A failed login, in the account's enterprise when the name is an account's (the platform's log
    otherwise), under the name as typed."""
    typed = str(credentials.get("username") or "")[:150]
    lockout.login_failure_count(request, typed)
    account = User.objects.filter(username=username_normalise(typed)).only("pk", "enterprise_id").first()
    audit_record(
        action=AuditAction.LOGIN_FAILED,
        enterprise_id=account.enterprise_id if account is not None else None,
        actor_name=typed or "?",
        target_type="agent" if account is not None else "",
        target_id=account.pk if account is not None else "",
        target_name=typed,
    )


@receiver(post_delete, sender=User, dispatch_uid="accounts.avatar_file_delete")
def _avatar_file_delete(sender: type[User], instance: User, **kwargs: Any) -> None:
    """A user row deleted (their enterprise deleted; agent_delete keeps the row): their uploaded avatar's
    file goes after the commit, unless another user names it."""
    avatars.avatar_release(instance.avatar)
