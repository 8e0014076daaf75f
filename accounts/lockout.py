"""Login throttling with django-axes: who a failed login counts against, and the lock-out answers."""

from __future__ import annotations

import math
from typing import Any

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import gettext as _

from chat.identity import client_ip


class LockoutBackend(AxesStandaloneBackend):
    """Axes' gate in front of the password check; a call without a request is not from the network.

    Axes refuses request-less calls outright (Django's test client `login()`, shell scripts); those
    cannot be brute-forced from outside, so they pass to the next backend unthrottled. Every login
    view (console, admin, JWT) passes its request, and so is throttled.
    """

    def authenticate(
        self, request: Any, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> Any:
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)


def request_ip(request: Any) -> str | None:
    """AXES_CLIENT_IP_CALLABLE: the same trusted-proxy rule as everywhere else, not ipware's guess."""
    meta = request.META
    return client_ip(meta.get("REMOTE_ADDR"), meta.get("HTTP_X_FORWARDED_FOR"), meta.get("HTTP_X_REAL_IP"))


def request_username(request: Any, credentials: dict[str, Any] | None) -> str | None:
    """AXES_USERNAME_CALLABLE: case-folded, since MariaDB's collation matches usernames case-insensitively;
    otherwise "KEFU2", "Kefu2", ... would each get their own count against the one account."""
    value = (credentials or {}).get("username")
    if value is None:
        value = getattr(request, "POST", {}).get("username")
    return value.strip().casefold() if isinstance(value, str) else None


def locked_out(request: Any) -> bool:
    """Whether axes refused or locked this request (it marks the request it was given; for DRF that is the
    wrapper, for Django's forms the HttpRequest)."""
    inner: HttpRequest | None = getattr(request, "_request", None)
    return bool(getattr(request, "axes_locked_out", False) or getattr(inner, "axes_locked_out", False))


def retry_after() -> int:
    """Seconds until a lock-out ends at the latest: it lasts the cool-off from the failure that started it."""
    return int(settings.AXES_COOLOFF_TIME.total_seconds())


def lockout_message() -> str:
    minutes = max(1, math.ceil(retry_after() / 60))
    return _("Too many failed logins for this account or from this address; try again in %(minutes)d minutes.") % {
        "minutes": minutes
    }
