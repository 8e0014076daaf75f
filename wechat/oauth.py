"""Web authorisation (网页授权) of the visitor page opened inside WeChat: the page becomes the follower's visitor.

1. chat asks (chat.hooks.visitor_page_opened, only in WeChat's browser) and `page_redirect` answers, for an
   enterprise whose account is enabled, complete and has `oauth_enabled`, with our start URL and the page's query.
2. `oauth_start` keeps the page's query (the chatIndex parameters only) under a random nonce in the cache for
   STATE_MAX_AGE seconds, sets a cookie of its own for that nonce (HttpOnly, SameSite=Lax: sent on WeChat's
   redirect back) and redirects to WeChat's authorize URL with scope snsapi_userinfo and the state
   "<nonce>.<HMAC of nonce, enterprise and cookie>". WeChat's state is at most 128 bytes: it carries no query.
3. `oauth_callback` takes the state once (a forged or tampered one, one of another browser, a replay or an
   expired one → an error page, nothing created), exchanges the code, reads the nickname and picture (refused
   with 48001, or a base-scope code: the openid alone), finds or creates the follower (wechat.inbound), and
   redirects to chatIndex (our path, never one given) with the page's query and a one-time ticket
   (chat.identity.visitor_ticket_issue). The page logs in with it and its old token: its web visitor's history
   joins the follower's (chat.services.visitor_merge). No code (the user declined the userinfo page): once
   more with snsapi_base, which asks nothing.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import time
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from chat.hooks import VisitorPageOpened
from chat.identity import visitor_ticket_issue
from core import health
from core.clientip import request_client_ip
from core.errors import ChatError
from core.jsonin import row_id
from core.ratelimit import rate_limit

from .client import SCOPE_BASE, SCOPE_USERINFO, WechatError, wechat_oauth
from .inbound import follower_authorised
from .models import WechatAccount

logger = logging.getLogger(__name__)

STATE_MAX_AGE = 600  # seconds from the start to WeChat's redirect back
START_URL_NAME = "wechat_oauth_start"
CALLBACK_URL_NAME = "wechat_oauth_callback"
COOKIE_PREFIX = "gofly_wxo_"
CHAT_PAGE_URL_NAME = "chat-index"
# The chatIndex parameters carried through WeChat and back (docs/protocol.md); nothing else, "ticket" never.
PAGE_PARAMS = (
    "ent_id",
    "kefu_id",
    "user_id",
    "lang",
    "refer",
    "landing_page",
    "extra",
    "visitor_id",
    "visitor_name",
    "avatar",
    "timestamp",
    "signature",
)
_PARAM_MAX = 8192
_NONCE_BYTES = 12  # 16 characters


def _account(enterprise_id: int) -> WechatAccount | None:
    """The enterprise's account if web authorisation may run now: enabled, complete, oauth_enabled, active."""
    account = (
        WechatAccount.objects.select_related("enterprise")
        .filter(enterprise_id=enterprise_id, is_enabled=True, oauth_enabled=True, enterprise__is_active=True)
        .first()
    )
    return account if account is not None and account.is_complete() else None


def _page_query(query: Any) -> dict[str, str]:
    return {name: str(query.get(name))[:_PARAM_MAX] for name in PAGE_PARAMS if query.get(name)}


def page_redirect(page: VisitorPageOpened) -> str | None:
    """chat.hooks.visitor_page_opened: our start path with the page's query, when the enterprise authorises."""
    if _account(page.enterprise.pk) is None:
        return None
    query = {**_page_query(page.request.GET), "ent_id": str(page.enterprise.pk)}
    return f"{reverse(START_URL_NAME, kwargs={'enterprise_id': page.enterprise.pk})}?{urlencode(query)}"


# --- the state --------------------------------------------------------------------------------------------


def _mac(nonce: str, enterprise_id: int, cookie: str) -> str:
    return salted_hmac("gofly.wechat.oauth-state", f"{nonce}:{enterprise_id}:{cookie}", algorithm="sha256").hexdigest()[
        :32
    ]


def _entry_key(nonce: str) -> str:
    return f"wechat:oauth:{nonce}"


def _state_new(
    response: HttpResponse, request: HttpRequest, enterprise_id: int, query: dict[str, str], scope: str
) -> str:
    """A fresh state for this browser: its query kept under the nonce, its cookie set on `response`."""
    nonce = secrets.token_urlsafe(_NONCE_BYTES)
    cookie = secrets.token_urlsafe(24)
    cache.set(_entry_key(nonce), {"e": enterprise_id, "q": query, "s": scope, "t": time.time()}, STATE_MAX_AGE)
    response.set_cookie(
        COOKIE_PREFIX + nonce,
        cookie,
        max_age=STATE_MAX_AGE,
        path=reverse(CALLBACK_URL_NAME, kwargs={"enterprise_id": enterprise_id}),
        secure=request.is_secure(),
        httponly=True,
        samesite="Lax",
    )
    return f"{nonce}.{_mac(nonce, enterprise_id, cookie)}"


class StateError(Exception):
    pass


def _state_take(request: HttpRequest, enterprise_id: int, state: str) -> dict[str, Any]:
    """The start's entry if `state` is this browser's, of this enterprise, in time and not used; used up now."""
    nonce, _dot, mac = state.partition(".")
    if not nonce or len(nonce) > 32 or not mac or len(state) > 128:
        raise StateError("malformed")
    cookie = request.COOKIES.get(COOKIE_PREFIX + nonce, "")
    if not cookie or not hmac.compare_digest(mac, _mac(nonce, enterprise_id, cookie)):
        raise StateError("not this browser's")
    if not cache.add(f"wechat:oauth-used:{nonce}", 1, STATE_MAX_AGE + 5):
        raise StateError("replayed")
    entry = cache.get(_entry_key(nonce))
    cache.delete(_entry_key(nonce))
    if not isinstance(entry, dict) or entry.get("e") != enterprise_id:
        raise StateError("unknown")
    if time.time() - float(entry.get("t", 0)) > STATE_MAX_AGE:
        raise StateError("expired")
    return entry


# --- the views --------------------------------------------------------------------------------------------


def _refused(request: HttpRequest, message: str, status: int = 400) -> HttpResponse:
    return render(request, "chat/unavailable.html", {"message": message}, status=status)


def _redirect_uri(request: HttpRequest, enterprise_id: int) -> str:
    return request.build_absolute_uri(reverse(CALLBACK_URL_NAME, kwargs={"enterprise_id": enterprise_id}))


def _to_wechat(request: HttpRequest, account: WechatAccount, query: dict[str, str], scope: str) -> HttpResponse:
    response = HttpResponseRedirect("/")
    state = _state_new(response, request, account.enterprise_id, query, scope)
    oauth = wechat_oauth(account, redirect_uri=_redirect_uri(request, account.enterprise_id), scope=scope, state=state)
    response["Location"] = oauth.authorize_url
    return response


@require_GET
def oauth_start(request: HttpRequest, enterprise_id: int) -> HttpResponse:
    """`/wechat/oauth/<enterprise id>/start?<chatIndex query>`: off to WeChat's authorize page."""
    account = _account(enterprise_id) if row_id(enterprise_id) is not None else None
    if account is None:
        return _refused(request, _("This chat link is not valid."), 404)
    query = {**_page_query(request.GET), "ent_id": str(enterprise_id)}
    try:
        # Each start keeps an entry for 10 minutes: as many per address as visitor logins.
        rate_limit(f"wechat-oauth:{request_client_ip(request.META)}", *settings.GOFLY["RATE_LOGIN_PER_IP"])
        return _to_wechat(request, account, query, SCOPE_USERINFO)
    except ChatError as refusal:
        return _refused(request, str(refusal.message), refusal.status)
    except WechatError:  # the secret became unreadable since the page asked
        return _refused(request, _("Sign-in with WeChat is not available now. Please try again later."), 503)


def _chat_page(query: dict[str, str], ticket: str) -> str:
    return f"{reverse(CHAT_PAGE_URL_NAME)}?{urlencode({**query, 'ticket': ticket})}"


@require_GET
def oauth_callback(request: HttpRequest, enterprise_id: int) -> HttpResponse:
    """`/wechat/oauth/<enterprise id>/callback?code=&state=`: where WeChat sends the browser back."""
    account = _account(enterprise_id) if row_id(enterprise_id) is not None else None
    if account is None:
        return _refused(request, _("This chat link is not valid."), 404)
    try:
        entry = _state_take(request, enterprise_id, str(request.GET.get("state") or ""))
    except StateError as exc:
        logger.info("wechat: an OAuth state of enterprise %s refused: %s", enterprise_id, exc)
        return _refused(request, _("This sign-in has expired or was not started here. Please open the chat again."))
    query = entry["q"] if isinstance(entry.get("q"), dict) else {"ent_id": str(enterprise_id)}
    code = str(request.GET.get("code") or "")
    try:
        if not code:
            if entry.get("s") == SCOPE_USERINFO:  # declined the userinfo page: the openid alone asks nothing
                return _to_wechat(request, account, query, SCOPE_BASE)
            return _refused(request, _("WeChat did not confirm who you are. Please open the chat again."))
        return _complete(request, account, query, code)
    except WechatError as exc:
        logger.info("wechat: OAuth of enterprise %s refused by WeChat: %s", enterprise_id, exc)
        return _refused(request, _("WeChat did not confirm who you are. Please open the chat again."))
    except health.INFRASTRUCTURE_ERRORS:
        return _refused(request, _("Sign-in with WeChat is not available now. Please try again later."), 503)


def _complete(request: HttpRequest, account: WechatAccount, query: dict[str, str], code: str) -> HttpResponse:
    oauth = wechat_oauth(account, redirect_uri=_redirect_uri(request, account.enterprise_id))
    answer = oauth.fetch_access_token(code)
    openid = str(answer.get("openid") or "")
    if not openid or len(openid) > 64:
        raise WechatError(None, "no openid")
    scope, nickname, avatar = SCOPE_BASE, "", ""
    if SCOPE_USERINFO in str(answer.get("scope") or ""):
        try:
            info = oauth.get_user_info(openid, str(answer.get("access_token") or ""))
        except WechatError as exc:  # 48001 and the like: the openid is enough
            logger.info("wechat: no OAuth user info for account %s: %s", account.pk, exc)
        else:
            scope = SCOPE_USERINFO
            nickname = str(info.get("nickname") or "")
            avatar = str(info.get("headimgurl") or "")
    follower = follower_authorised(account=account, openid=openid, scope=scope, nickname=nickname, avatar=avatar)
    ticket = visitor_ticket_issue(visitor_pk=follower.visitor_id, enterprise_id=account.enterprise_id)
    response = HttpResponseRedirect(_chat_page(query, ticket))
    response.headers["Cache-Control"] = "no-store"
    return response
