"""Login throttling that slows a guesser without handing anyone a way to lock an agent out.

Agent usernames are public (every chat link names one), so a hard lock per account is a weapon: anyone
could keep an agent out of the console with ten wrong passwords. Following OWASP's authentication and
"device cookies" guidance, the two counters differ:

- **Per network** (an IPv4 address, or its GOFLY_LOGIN_IPV4_PREFIX network; an IPv6 /64 by default):
  GOFLY_LOGIN_FAILURES wrong passwords without a pause of GOFLY_LOGIN_LOCKOUT seconds lock that network
  out for GOFLY_LOGIN_LOCKOUT seconds, the right password included (django-axes, counting in the cache).
  A guesser locks out only the addresses they guess from.
- **Per account** (the normalised username, accounts.models.username_normalise): past GOFLY_LOGIN_FAILURES
  attempts (a successful login starts the count over), each further attempt on the account from an
  unknown browser and network waits a delay that doubles with each one, from 1 s to
  GOFLY_LOGIN_DELAY_MAX; until then it is refused with 429 and Retry-After, its password unchecked.
  Logins from a network that has logged into this account before (accounts.LoginNetwork), or from a
  browser holding this account's device cookie, skip the delay: a guesser spread over many addresses
  gets about one guess per GOFLY_LOGIN_DELAY_MAX seconds per account, and the owner still gets in.

Both fail open: while the cache (Redis) does not answer, logins are checked on their password alone and
the outage is logged once (core.health), instead of every login failing with a 500.
"""

from __future__ import annotations

import hashlib
import math
import time
from datetime import timedelta
from typing import Any

from axes.backends import AxesStandaloneBackend
from axes.handlers.cache import AxesCacheHandler
from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from redis.exceptions import RedisError

from core import health
from core.clientip import request_client_ip
from enterprises.models import ip_network_of

from .models import LoginNetwork, User, username_normalise

DEVICE_COOKIE = "gofly_device"
_DEVICE_SALT = "gofly.login-device.v1"
_DEVICE_MAX_AGE = 365 * 86400
# How long a network that logged into an account stays known to it.
_KNOWN_FOR = timedelta(days=90)
_KNOWN_KEPT = 50  # networks remembered per account, newest first
# What a cache that is away raises: redis-py's errors, and the socket's own.
_CACHE_ERRORS = (RedisError, OSError)


def _settings_int(name: str) -> int:
    return int(settings.GOFLY[name])


def _clock() -> float:
    return time.time()


# --- who is asking -----------------------------------------------------------------------------------


def request_ip(request: Any) -> str | None:
    """AXES_CLIENT_IP_CALLABLE: the network failures count against (login_network), found with the same
    trusted-proxy rule as everywhere else, not ipware's guess."""
    return login_network(request_client_ip(request.META))


def login_network(ip: str | None) -> str | None:
    """The network a login counts against: the address's GOFLY_LOGIN_IPV4_PREFIX or
    GOFLY_LOGIN_IPV6_PREFIX network (32 and 64 by default): one IPv6 host holds a whole /64."""
    return ip_network_of(ip, _settings_int("LOGIN_IPV4_PREFIX"), _settings_int("LOGIN_IPV6_PREFIX"))


def request_username(request: Any, credentials: dict[str, Any] | None) -> str | None:
    """AXES_USERNAME_CALLABLE: the normalised username, the one the account is found and counted by."""
    value = (credentials or {}).get("username")
    if value is None:
        value = getattr(request, "POST", {}).get("username")
    return username_normalise(value) if isinstance(value, str) else None


# --- the per-network lock (django-axes), failing open -------------------------------------------------


class FailOpenCacheHandler(AxesCacheHandler):
    """Axes' cache handler, but a cache that does not answer neither refuses nor breaks a login."""

    def get_failures(self, request: Any, credentials: dict[str, Any] | None = None) -> int:
        try:
            return int(super().get_failures(request, credentials))
        except _CACHE_ERRORS as exc:
            health.failed(health.REDIS, exc)
            return 0

    def user_login_failed(self, sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
        try:
            super().user_login_failed(sender, credentials, request, **kwargs)
        except _CACHE_ERRORS as exc:
            health.failed(health.REDIS, exc)

    def user_logged_in(self, sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
        try:
            super().user_logged_in(sender, request, user, **kwargs)
        except _CACHE_ERRORS as exc:
            health.failed(health.REDIS, exc)


class LockoutBackend(AxesStandaloneBackend):
    """The gate in front of the password check: axes' network lock first, then the account's delay.

    Axes refuses request-less calls outright (Django's test client `login()`, shell scripts); those
    cannot be brute-forced from outside, so they pass to the next backend unthrottled. Every login
    view (console, admin, JWT) passes its request, and so is throttled.
    """

    def authenticate(
        self, request: Any, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> Any:
        if request is None:
            return None
        # The network's lock first: an attempt it refuses is not counted against the account.
        super().authenticate(request, username, password, **kwargs)
        name = username_normalise(username) if isinstance(username, str) else ""
        if name:
            wait = _account_wait(request, name)
            if wait:
                request.gofly_login_wait = wait
                # Django then reports a failed login, which axes counts against the network.
                raise PermissionDenied("the account's delay has not passed")
        return None


# --- the per-account delay ----------------------------------------------------------------------------


def _account_key(name: str) -> str:
    # Hashed: a username may hold characters some caches refuse in keys, and is any length.
    return "gofly:login:" + hashlib.sha256(name.encode()).hexdigest()[:32]


def _trusted(request: Any, name: str) -> bool:
    """A browser holding this account's device cookie, or a network that has logged into it before."""
    cookie = getattr(request, "COOKIES", {}).get(DEVICE_COOKIE)
    if cookie:
        try:
            if signing.loads(cookie, salt=_DEVICE_SALT, max_age=_DEVICE_MAX_AGE) == name:
                return True
        except signing.BadSignature:
            pass
    network = request_ip(request)
    if network is None:
        return False
    since = timezone.now() - _KNOWN_FOR
    return LoginNetwork.objects.filter(user__username=name, network=network, last_login_at__gt=since).exists()


def _account_wait(request: Any, name: str) -> int:
    """0 to go ahead (the attempt is counted), or the seconds this attempt must wait (it is not)."""
    key = _account_key(name)
    try:
        window = _settings_int("LOGIN_LOCKOUT")
        if cache.add(key, 1, timeout=window):
            return 0
        attempts = int(cache.incr(key))
        cache.touch(key, timeout=window)
        free = _settings_int("LOGIN_FAILURES")
        if attempts <= free:
            return 0
        if _trusted(request, name):
            cache.decr(key)  # the owner's attempt is not the guesser's
            return 0
        delay = min(2 ** (attempts - free - 1), _settings_int("LOGIN_DELAY_MAX"))
        last = cache.get(key + ":at") or 0.0
        now = _clock()
        if now < last + delay:
            cache.decr(key)  # refused unchecked: it does not count
            return max(1, math.ceil(last + delay - now))
        cache.set(key + ":at", now, timeout=window)
        return 0
    except _CACHE_ERRORS as exc:
        health.failed(health.REDIS, exc)
        return 0
    except ValueError:  # the count expired between add and incr: a fresh start
        return 0


def login_succeeded(request: Any, user: User) -> None:
    """A password was right (accounts.backends): the account's count starts over, and the network is
    remembered as one the account logs in from."""
    if request is None:
        return
    name = username_normalise(user.username)
    key = _account_key(name)
    captcha_failures_forget(request, user)
    try:
        cache.delete_many([key, key + ":at"])
    except _CACHE_ERRORS as exc:
        health.failed(health.REDIS, exc)
    network = request_ip(request)
    if network is None:
        return
    updated = LoginNetwork.objects.filter(user=user, network=network).update(last_login_at=timezone.now())
    if not updated:
        try:
            LoginNetwork.objects.create(user=user, network=network, last_login_at=timezone.now())
        except IntegrityError:  # the same network's login at the same moment
            return
        stale = LoginNetwork.objects.filter(user=user).order_by("-last_login_at").values_list("pk", flat=True)
        LoginNetwork.objects.filter(pk__in=list(stale[_KNOWN_KEPT:])).delete()
    request.gofly_device = signing.dumps(name, salt=_DEVICE_SALT)


def device_cookie_set(request: Any, response: HttpResponse) -> HttpResponse:
    """After a successful login in a browser (console, admin): the cookie that lets this browser past the
    account's delay next time (OWASP's device cookie). HttpOnly, and Secure where the session cookie is."""
    value = getattr(request, "gofly_device", None)
    if value:
        response.set_cookie(
            DEVICE_COOKIE,
            value,
            max_age=_DEVICE_MAX_AGE,
            httponly=True,
            secure=settings.SESSION_COOKIE_SECURE,
            samesite="Lax",
        )
    return response


# --- what the login views say -------------------------------------------------------------------------


def _inner(request: Any) -> Any:
    # DRF wraps the HttpRequest; what the backends marked is on the one they were given.
    return getattr(request, "_request", None)


def _marked(request: Any, name: str) -> Any:
    return getattr(request, name, None) or getattr(_inner(request), name, None)


def login_refusal(request: HttpRequest | Any) -> tuple[str, int] | None:
    """(message, Retry-After seconds) when the throttle refused this login, None when its password was
    simply wrong: the views answer 429 with the reason instead of "wrong password"."""
    wait = _marked(request, "gofly_login_wait")
    if wait:
        message = ngettext(
            "Too many failed logins for this account; try again in %(seconds)d second.",
            "Too many failed logins for this account; try again in %(seconds)d seconds.",
            wait,
        ) % {"seconds": wait}
        return message, int(wait)
    if _marked(request, "axes_locked_out"):
        cooloff = int(settings.AXES_COOLOFF_TIME.total_seconds())
        minutes = max(1, math.ceil(cooloff / 60))
        message = _("Too many failed logins from this network; try again in %(minutes)d minutes.") % {
            "minutes": minutes
        }
        return message, cooloff
    return None


# --- the captcha after failed logins ------------------------------------------------------------------


def _captcha_keys(request: Any, name: str) -> list[str]:
    keys = []
    if name:
        keys.append("gofly:login-failed:account:" + hashlib.sha256(name.encode()).hexdigest()[:32])
    network = request_ip(request)
    if network:
        keys.append("gofly:login-failed:network:" + hashlib.sha256(network.encode()).hexdigest()[:32])
    return keys


def login_failure_count(request: Any, username: object) -> None:
    """A login failed (accounts.signals): one more for the account and for the network, for as long as the
    lock-out window; past GOFLY_LOGIN_CAPTCHA_AFTER of either, the login forms ask for a captcha."""
    if request is None:
        return
    name = username_normalise(username) if isinstance(username, str) else ""
    window = _settings_int("LOGIN_LOCKOUT")
    try:
        for key in _captcha_keys(request, name):
            if not cache.add(key, 1, timeout=window):
                cache.incr(key)
                cache.touch(key, timeout=window)
    except ValueError:  # expired between add and incr
        return
    except _CACHE_ERRORS as exc:
        health.failed(health.REDIS, exc)


def captcha_required(request: Any, username: object) -> bool:
    """Whether a login of `username` from this request's network must pass a captcha first. False while the
    cache is away (fails open, as the rest of the throttle does)."""
    name = username_normalise(username) if isinstance(username, str) else ""
    try:
        counts = cache.get_many(_captcha_keys(_inner(request) or request, name))
    except _CACHE_ERRORS as exc:
        health.failed(health.REDIS, exc)
        return False
    return any(int(count) >= _settings_int("LOGIN_CAPTCHA_AFTER") for count in counts.values())


def captcha_failures_forget(request: Any, user: User) -> None:
    """A right password with a right captcha: the account's count starts over (the network's does not)."""
    try:
        cache.delete(_captcha_keys(request, username_normalise(user.username))[0])
    except _CACHE_ERRORS as exc:
        health.failed(health.REDIS, exc)
