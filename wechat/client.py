"""WeChat's API for one official account: wechatpy's client on configurable bases, its access token shared by
every process through the cache, and WeChat's refusals as one typed error.

Interface
---------
``wechat_client(account) -> WechatClient``
    A wechatpy ``WeChatClient`` for a ``wechat.models.WechatAccount``: its API groups as wechatpy has them
    (``client.message.send_text(openid, text)``, ``client.media.upload(kind, file)``,
    ``client.media.download(media_id)``, ``client.user.get(openid)``, ``client.message.send_template(...)``,
    ``client.qrcode.create(data)``, ``client.menu.create/get/delete``, ...). Calls go to
    ``settings.GOFLY_WECHAT_API_BASE`` (default ``https://api.weixin.qq.com/cgi-bin/``) with a timeout of
    ``settings.GOFLY_WECHAT_TIMEOUT`` seconds (5) and the shared access token. Cheap: make one per task,
    never keep one across requests. Raises WechatNotConfiguredError when the account has no AppID or
    AppSecret (or the secret is unreadable and must be entered again). Do not use wechatpy's
    ``client.qrcode.show/get_url`` and ``client.media.get_url``: they ignore the bases (``qrcode_image_url``).

    Each call returns WeChat's JSON answer (a dict; ``media.download``: the ``requests.Response`` of a file)
    or raises a ``WechatError``:

    - ``WechatError``: WeChat refused; ``.errcode`` (int) and ``.errmsg`` (str) as WeChat said them, e.g.
      45015 (outside the 48-hour window: OUTSIDE_WINDOW), 45009 (rate limit: RATE_LIMITED), 40003 (bad
      openid), 48001 (the account lacks the permission);
    - ``WechatUnavailableError(WechatError)``: no usable answer (timeout, connection refused, HTTP 4xx/5xx, not
      JSON); ``.errcode`` is None, ``.errmsg`` a short reason ("timeout", "HTTP 502");
    - ``WechatNotConfiguredError(WechatError)``: ``.errcode`` None; the account cannot call WeChat.

    An "invalid token" answer (40001, 40014, 42001: INVALID_TOKEN_CODES) makes exactly one forced refresh
    of the token and one retry of the call; a second such answer is raised, not retried again.

``access_token(account, *, rejected=None) -> str``
    The account's access token, from the cache (Redis when REDIS_URL is set, so shared by all processes)
    under a key per AppID. Fetched from WeChat only when missing or when less than REFRESH_MARGIN seconds
    remain, by one process at a time (a lock taken with ``cache.add``); the others keep using the old token
    while it is valid, or wait for the new one (up to the timeout, then WechatUnavailableError). ``rejected``: a
    token WeChat just refused; a new one is fetched unless another process already replaced it.
    Raises WechatError (the token endpoint's refusal: 40013 bad AppID, 40125 bad AppSecret, 40164 IP not
    whitelisted), WechatUnavailableError, WechatNotConfiguredError.

``credentials_check(account) -> int``
    Fetch a fresh token now (the settings page's "test" button); its lifetime in seconds. Raises as above.

``access_token_forget(app_id) -> None``
    Drop the cached token (after the AppSecret changed: wechat.services does it on commit).

``wechat_oauth(account, *, redirect_uri, scope=SCOPE_USERINFO, state="") -> WechatOAuth``
    wechatpy's ``WeChatOAuth`` on ``settings.GOFLY_WECHAT_OAUTH_BASE`` (``https://api.weixin.qq.com/sns/``) with
    its ``authorize_url`` on ``settings.GOFLY_WECHAT_OPEN_BASE`` (``https://open.weixin.qq.com/``):
    ``fetch_access_token(code)``, ``refresh_access_token(refresh_token)``, ``get_user_info(openid,
    access_token)``, raising the errors above.

``qrcode_image_url(ticket) -> str``
    The QR code picture of a ticket from ``client.qrcode.create`` (``settings.GOFLY_WECHAT_MP_BASE``).
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests
from django.conf import settings
from django.core.cache import cache
from redis.exceptions import RedisError
from wechatpy import WeChatClient, WeChatOAuth
from wechatpy.exceptions import WeChatClientException
from wechatpy.session import SessionStorage

from core import health

from .models import WechatAccount

logger = logging.getLogger(__name__)


class _RedactCredentials(logging.Filter):
    """urllib3 logs each request's URL at DEBUG; WeChat's carry the AppSecret or the access token."""

    _CREDENTIAL = re.compile(r"((?:secret|access_token|refresh_token|code)=)[^&\s\"]+")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = self._CREDENTIAL.sub(r"\1…", message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


logging.getLogger("urllib3.connectionpool").addFilter(_RedactCredentials())

INVALID_TOKEN_CODES = frozenset({40001, 40014, 42001})
OUTSIDE_WINDOW = 45015
RATE_LIMITED = 45009
REFRESH_MARGIN = 300  # seconds: a token with less left is replaced before it expires
SCOPE_USERINFO = "snsapi_userinfo"
SCOPE_BASE = "snsapi_base"
_POLL = 0.05  # seconds between a waiting process's looks at the cache
_STILL_USABLE = 10  # seconds: an old token others may use while one process fetches the next


class WechatError(Exception):
    """WeChat refused a call: `errcode` and `errmsg` as WeChat answered them (errcode None: no answer)."""

    def __init__(self, errcode: int | None, errmsg: str) -> None:
        super().__init__(errcode, errmsg)
        self.errcode = errcode
        self.errmsg = errmsg[:500]

    def __str__(self) -> str:
        return f"WeChat error {self.errcode}: {self.errmsg}"


class WechatUnavailableError(WechatError):
    """No usable answer from WeChat: timeout, refused connection, HTTP error status, a body not JSON."""

    def __init__(self, reason: str) -> None:
        super().__init__(None, reason)


class WechatNotConfiguredError(WechatError):
    """The account lacks what a call needs (AppID, AppSecret), or its secret must be entered again."""

    def __init__(self, reason: str) -> None:
        super().__init__(None, reason)


def _timeout() -> float:
    return float(getattr(settings, "GOFLY_WECHAT_TIMEOUT", 5))


def api_timeout() -> float:
    """Seconds a call to WeChat may take (settings.GOFLY_WECHAT_TIMEOUT)."""
    return _timeout()


def _base(name: str, default: str) -> str:
    value = str(getattr(settings, name, "") or default)
    return value if value.endswith("/") else value + "/"


def api_base() -> str:
    return _base("GOFLY_WECHAT_API_BASE", "https://api.weixin.qq.com/cgi-bin/")


def oauth_base() -> str:
    return _base("GOFLY_WECHAT_OAUTH_BASE", "https://api.weixin.qq.com/sns/")


def open_base() -> str:
    return _base("GOFLY_WECHAT_OPEN_BASE", "https://open.weixin.qq.com/")


def mp_base() -> str:
    return _base("GOFLY_WECHAT_MP_BASE", "https://mp.weixin.qq.com/cgi-bin/")


def _unreachable(exc: requests.RequestException) -> WechatUnavailableError:
    # Never str(exc): requests puts the URL in it, and the token URL carries the AppSecret.
    if isinstance(exc, requests.Timeout):
        return WechatUnavailableError("timeout")
    if isinstance(exc, requests.ConnectionError):
        return WechatUnavailableError("connection failed")
    return WechatUnavailableError(type(exc).__name__)


def _refusal(exc: WeChatClientException) -> WechatError:
    if exc.errcode is None:
        status = getattr(exc.response, "status_code", None)
        return WechatUnavailableError(f"HTTP {status}" if status else "no answer")
    return WechatError(int(exc.errcode), str(exc.errmsg or ""))


def _credentials(account: WechatAccount) -> tuple[str, str]:
    if not account.app_id:
        raise WechatNotConfiguredError("no AppID")
    secret = account.app_secret
    if not secret:
        lost = "app_secret" in account.secrets_lost()
        raise WechatNotConfiguredError("the AppSecret must be entered again" if lost else "no AppSecret")
    return account.app_id, secret


# --- the access token ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    value: str
    expires_at: float  # time.time()
    lifetime: float  # seconds, as WeChat gave it

    def left(self) -> float:
        return self.expires_at - time.time()

    def margin(self) -> float:
        """When to replace it: REFRESH_MARGIN before it expires (a quarter of a shorter lifetime)."""
        return min(REFRESH_MARGIN, self.lifetime / 4)


def _key(app_id: str) -> str:
    return f"wechat:token:{app_id}"


def _lock_key(app_id: str) -> str:
    return f"wechat:token-lock:{app_id}"


# While the cache (Redis) is away each process keeps its own token, fetched by one thread at a time: better
# a few fetches more than no messages at all.
_local_tokens: dict[str, _Token] = {}
_local_lock = threading.Lock()


def _cache_read(app_id: str) -> _Token | None:
    try:
        entry = cache.get(_key(app_id))
    except (RedisError, OSError) as exc:
        health.failed(health.REDIS, exc)
        return _local_tokens.get(app_id)
    if isinstance(entry, dict) and isinstance(entry.get("token"), str):
        return _Token(entry["token"], float(entry.get("expires_at", 0)), float(entry.get("lifetime", 7200)))
    return None


def _cache_write(app_id: str, token: _Token) -> None:
    _local_tokens[app_id] = token
    try:
        entry = {"token": token.value, "expires_at": token.expires_at, "lifetime": token.lifetime}
        cache.set(_key(app_id), entry, timeout=max(1, int(token.left())))
    except (RedisError, OSError) as exc:
        health.failed(health.REDIS, exc)


def _lock_take(app_id: str, owner: str) -> bool | None:
    """True: ours; False: another process holds it; None: the cache is away (lock within this process)."""
    try:
        return bool(cache.add(_lock_key(app_id), owner, timeout=int(_timeout()) + 5))
    except (RedisError, OSError) as exc:
        health.failed(health.REDIS, exc)
        return None


def _lock_release(app_id: str, owner: str) -> None:
    try:
        # Not atomic, but the lock outlives a fetch (timeout + 5 s): it is ours unless a fetch overran it.
        if cache.get(_lock_key(app_id)) == owner:
            cache.delete(_lock_key(app_id))
    except (RedisError, OSError) as exc:
        health.failed(health.REDIS, exc)


def _fetch(app_id: str, secret: str) -> _Token:
    """A new token from WeChat's token endpoint (each fetch counts against the account's daily quota)."""
    params = {"grant_type": "client_credential", "appid": app_id, "secret": secret}
    try:
        answer = requests.get(f"{api_base()}token", params=params, timeout=_timeout())
    except requests.RequestException as exc:
        raise _unreachable(exc) from None
    if answer.status_code >= 400:
        raise WechatUnavailableError(f"HTTP {answer.status_code}")
    try:
        data = answer.json()
    except ValueError:
        raise WechatUnavailableError("not JSON") from None
    if not isinstance(data, dict):
        raise WechatUnavailableError("not JSON")
    if data.get("errcode"):
        raise WechatError(int(data["errcode"]), str(data.get("errmsg", "")))
    token = data.get("access_token")
    if not isinstance(token, str) or not token:
        raise WechatUnavailableError("no access_token")
    expires_in = max(60, min(int(data.get("expires_in") or 7200), 86400))
    logger.info("wechat: new access token for %s", app_id)
    return _Token(token, time.time() + expires_in, expires_in)


def _good(token: _Token | None, rejected: str | None, margin: float | None = None) -> bool:
    """Whether `token` may be used: not the one WeChat refused, and more than `margin` seconds left (by
    default its refresh margin)."""
    if token is None or token.value == rejected:
        return False
    return token.left() > (token.margin() if margin is None else margin)


def _refresh(app_id: str, secret: str, rejected: str | None) -> _Token:
    owner = uuid.uuid4().hex
    deadline = time.monotonic() + _timeout() + 1
    while True:
        taken = _lock_take(app_id, owner)
        if taken is None:
            with _local_lock:
                current = _local_tokens.get(app_id)
                if _good(current, rejected):
                    return current  # type: ignore[return-value]
                token = _fetch(app_id, secret)
                _local_tokens[app_id] = token
                return token
        if taken:
            try:
                current = _cache_read(app_id)  # another process may have refreshed it since we looked
                if _good(current, rejected):
                    return current  # type: ignore[return-value]
                token = _fetch(app_id, secret)
                _cache_write(app_id, token)
                return token
            finally:
                _lock_release(app_id, owner)
        current = _cache_read(app_id)
        if _good(current, rejected, _STILL_USABLE if rejected is None else None):
            return current  # type: ignore[return-value]  # still valid while the other process refreshes
        if time.monotonic() > deadline:
            raise WechatUnavailableError("the access token is being fetched by another process")
        time.sleep(_POLL)


def _token_for(app_id: str, secret: str, rejected: str | None = None) -> str:
    current = _cache_read(app_id)
    if _good(current, rejected):
        return current.value  # type: ignore[union-attr]
    return _refresh(app_id, secret, rejected).value


def access_token(account: WechatAccount, *, rejected: str | None = None) -> str:
    """The account's access token (module docstring)."""
    app_id, secret = _credentials(account)
    return _token_for(app_id, secret, rejected)


def credentials_check(account: WechatAccount) -> int:
    """Fetch a fresh token with the stored credentials now; the seconds it lives (module docstring)."""
    app_id, secret = _credentials(account)
    current = _cache_read(app_id)
    token = _refresh(app_id, secret, rejected=current.value if current else "")
    return int(token.left())


def access_token_forget(app_id: str) -> None:
    _local_tokens.pop(app_id, None)
    try:
        cache.delete(_key(app_id))
    except (RedisError, OSError) as exc:
        health.failed(health.REDIS, exc)


# --- the clients --------------------------------------------------------------------------------------


class CacheSession(SessionStorage):  # type: ignore[misc]
    """wechatpy's session storage (its JS-API ticket, ...) in Django's cache, shared by every process."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def get(self, key: str, default: Any = None) -> Any:
        return cache.get(f"{self.prefix}:{key}", default)

    def set(self, key: str, value: Any, ttl: int | None = None) -> None:
        if value is not None:
            cache.set(f"{self.prefix}:{key}", value, timeout=ttl or 86400)  # wechatpy checks its own expiry

    def delete(self, key: str) -> None:
        cache.delete(f"{self.prefix}:{key}")


class _InvalidTokenError(Exception):
    def __init__(self, error: WechatError, token: str) -> None:
        self.error = error
        self.token = token


class WechatClient(WeChatClient):  # type: ignore[misc]
    """wechatpy's client with our bases, timeout, shared token and errors (module docstring)."""

    def __init__(self, app_id: str, secret: str) -> None:
        super().__init__(
            app_id, secret, session=CacheSession(f"wechat:session:{app_id}"), timeout=_timeout(), auto_retry=False
        )
        self.API_BASE_URL = api_base()

    def __repr__(self) -> str:
        return f"<WechatClient {self.appid}>"

    @property
    def access_token(self) -> str:
        return _token_for(self.appid, self.secret)

    def fetch_access_token(self) -> dict[str, Any]:
        """wechatpy's hook, kept working for code that calls it: a fresh token through the shared lock."""
        current = _cache_read(self.appid)
        token = _refresh(self.appid, self.secret, rejected=current.value if current else "")
        return {"access_token": token.value, "expires_in": int(token.left())}

    def _call(self, method: str, url_or_endpoint: str, kwargs: dict[str, Any]) -> Any:
        token = kwargs["params"].get("access_token", "")
        try:
            return super()._request(method, url_or_endpoint, **kwargs)
        except WeChatClientException as exc:
            error = _refusal(exc)
        except requests.RequestException as exc:
            raise _unreachable(exc) from None
        if error.errcode in INVALID_TOKEN_CODES:
            raise _InvalidTokenError(error, token)
        raise error

    def _request(self, method: str, url_or_endpoint: str, **kwargs: Any) -> Any:
        params = kwargs.get("params")
        if params is not None and not isinstance(params, dict):
            raise TypeError("WeChat API parameters are a dict")
        own_token = params is None or "access_token" not in params
        params = dict(params or {})
        if own_token:
            params["access_token"] = self.access_token
        try:
            return self._call(method, url_or_endpoint, {**kwargs, "params": params})
        except _InvalidTokenError as refused:
            if not own_token:
                raise refused.error from None
            rejected = refused.token
        # WeChat says the token is invalid (revoked by a fetch elsewhere, expired early): one new token, one
        # more try; a second refusal is raised, never looped on.
        for upload in (kwargs.get("files") or {}).values():
            if hasattr(upload, "seek"):
                upload.seek(0)
        params["access_token"] = _token_for(self.appid, self.secret, rejected)
        try:
            return self._call(method, url_or_endpoint, {**kwargs, "params": params})
        except _InvalidTokenError as again:
            raise again.error from None


def wechat_client(account: WechatAccount) -> WechatClient:
    """A client for `account` (module docstring); WechatNotConfiguredError if it cannot call WeChat."""
    app_id, secret = _credentials(account)
    return WechatClient(app_id, secret)


class WechatOAuth(WeChatOAuth):  # type: ignore[misc]
    """wechatpy's web OAuth with our bases, timeout and errors (module docstring)."""

    def __init__(self, app_id: str, secret: str, redirect_uri: str, scope: str, state: str) -> None:
        super().__init__(app_id, secret, redirect_uri, scope=scope, state=state)
        self.OAUTH_BASE_URL = f"{open_base()}connect/"

    def __repr__(self) -> str:
        return f"<WechatOAuth {self.app_id}>"

    def _request(self, method: str, url_or_endpoint: str, **kwargs: Any) -> Any:
        if url_or_endpoint.startswith("sns/"):  # wechatpy's endpoints are relative to api.weixin.qq.com
            url_or_endpoint = oauth_base() + url_or_endpoint.removeprefix("sns/")
        kwargs.setdefault("timeout", _timeout())
        try:
            return super()._request(method, url_or_endpoint, **kwargs)
        except WeChatClientException as exc:
            raise _refusal(exc) from None
        except requests.RequestException as exc:
            raise _unreachable(exc) from None
        except ValueError:
            raise WechatUnavailableError("not JSON") from None


def wechat_oauth(
    account: WechatAccount, *, redirect_uri: str, scope: str = SCOPE_USERINFO, state: str = ""
) -> WechatOAuth:
    """Web OAuth for `account`'s followers (module docstring); WechatNotConfiguredError if it cannot."""
    if scope not in (SCOPE_USERINFO, SCOPE_BASE):
        raise ValueError(f"unknown OAuth scope {scope!r}")
    app_id, secret = _credentials(account)
    return WechatOAuth(app_id, secret, redirect_uri, scope, state)


def qrcode_image_url(ticket: str) -> str:
    """The picture of a parametric QR code, from the ticket `client.qrcode.create` answered."""
    return f"{mp_base()}showqrcode?ticket={quote(ticket, safe='')}"
