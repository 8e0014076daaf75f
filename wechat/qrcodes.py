"""Parametric QR codes (带参数二维码) of an enterprise's official account: an agent binds their own WeChat by
scanning a short-lived "bind" code their console shows, and a visitor who scans an agent's permanent "route"
code is routed to that agent. Also the agent's binding (WechatAgentBinding): read, created by a bind scan,
removed from the console.

Scene strings
-------------
WeChat sends a code's scene string back in the follower's `subscribe` (EventKey `qrscene_<scene>`) or `SCAN`
event. Ours start with BIND_PREFIX or ROUTE_PREFIX and a random part (token_urlsafe): a scene cannot be
guessed from an agent id, and a scene of another account is not found (rows are looked up by account and
scene). Any other scene is the operator's own and stays what it was: a fact recorded on the visitor.

- A bind scene is single use: the first scan consumes its row; a later scan, an expired one or an unknown
  one is told that the code is no longer valid. A bind scan never makes the scanner a chat visitor (no
  follower row, no greeting, no message): it is an agent, not a customer. An openid already bound to
  another agent of the account moves to the new agent: the WeChat's owner scanned, which only someone
  holding that phone can do, and the previous agent's console is told at once (`wechat.binding` null).
- A route scene is created once per agent and account and reused (WeChat caps permanent codes at 100,000
  per account). Its scan sets the follower's visitor's routing preference (chat's `Visitor.agent`) when the
  agent is still an active agent of the account's enterprise; otherwise it is ignored.
"""

from __future__ import annotations

import logging
import secrets
import time
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import requests
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from redis.exceptions import RedisError

from accounts.models import User
from accounts.permissions import MANAGE_AGENTS
from chat import services as chat_services
from chat.frames import group_agent
from chat.models import Visitor
from chat.realtime.broadcast import publish_on_commit
from core import health
from core.errors import ChatError, forbidden, not_found
from core.ratelimit import rate_limit

from .client import (
    WechatError,
    WechatNotConfiguredError,
    WechatUnavailableError,
    api_timeout,
    qrcode_image_url,
    wechat_client,
)
from .frames import agent_binding_frame, binding_payload
from .models import WechatAccount, WechatAgentBinding, WechatFollower, WechatQrCode

logger = logging.getLogger(__name__)

BIND_PREFIX = "gfb_"
ROUTE_PREFIX = "gfr_"
BIND_SECONDS = 600  # how long a bind code lives (WeChat's expire_seconds, and ours)
# Codes an agent may ask for: each is a WeChat API call, which the account's daily quota counts.
QR_PER_AGENT = (5, 60)
QR_PER_ENTERPRISE = (60, 60)
IMAGE_MAX_BYTES = 512 * 1024  # WeChat's pictures are tens of kilobytes
IMAGE_CACHE_SECONDS = 86400  # a route code's picture never changes
_SCAN_SEEN_SECONDS = 600  # WeChat retries an unanswered callback within seconds

Kind = WechatQrCode.Kind


def _unavailable() -> ChatError:
    return ChatError("wechat_unavailable", _("The enterprise's WeChat official account is not set up."), 409)


def _wechat_failed(error: WechatError) -> ChatError:
    if isinstance(error, WechatNotConfiguredError):
        return _unavailable()
    if isinstance(error, WechatUnavailableError):
        return ChatError("wechat_failed", _("WeChat could not be reached; try again shortly."), 502)
    return ChatError(
        "wechat_failed", _("WeChat refused the QR code (errcode %(errcode)s).") % {"errcode": error.errcode}, 502
    )


# --- reads ----------------------------------------------------------------------------------------------


def usable_account(enterprise_id: int) -> WechatAccount | None:
    """The enterprise's official account if it is enabled and complete (it can make codes); else None."""
    account = (
        WechatAccount.objects.select_related("enterprise")
        .filter(enterprise_id=enterprise_id, is_enabled=True, enterprise__is_active=True)
        .first()
    )
    return account if account is not None and account.is_complete() else None


def binding_of(agent: User) -> WechatAgentBinding | None:
    """The agent's WeChat binding, if any."""
    return WechatAgentBinding.objects.filter(agent_id=agent.pk, enterprise_id=agent.enterprise_id or 0).first()


def binding_status(*, agent: User) -> dict[str, Any]:
    """What the console shows: whether binding is possible now, and the binding."""
    binding = binding_of(agent)
    return {
        "available": usable_account(agent.enterprise_id or 0) is not None,
        "binding": binding_payload(binding) if binding is not None else None,
    }


def qrcode_for_viewer(*, viewer: User, qrcode_id: int) -> WechatQrCode:
    """A code whose picture `viewer` may see: their own live one, or (with manage_agents) a route code of an
    agent of their enterprise. Not found otherwise, alike for another tenant's, an expired or a missing one."""
    found = (
        WechatQrCode.objects.select_related("account")
        .filter(pk=qrcode_id, enterprise_id=viewer.enterprise_id or 0, account__is_enabled=True)
        .first()
    )
    if found is not None and (found.expires_at is None or found.expires_at > timezone.now()):
        if found.agent_id == viewer.pk or (found.kind == Kind.ROUTE and viewer.has_perm(MANAGE_AGENTS)):
            return found
    raise not_found(_("QR code"))


def qrcode_image(qrcode: WechatQrCode) -> bytes:
    """The code's PNG, fetched from WeChat (showqrcode) and kept in the cache for as long as it lives: pages
    show it from our origin, never from WeChat's. ChatError `wechat_failed` when WeChat does not give it."""
    key = f"wechat:qrimg:{qrcode.account_id}:{qrcode.pk}"
    try:
        cached = cache.get(key)
    except (RedisError, OSError) as exc:
        health.failed(health.REDIS, exc)
        cached = None
    if isinstance(cached, bytes):
        return cached
    try:
        with requests.get(qrcode_image_url(qrcode.ticket), timeout=api_timeout(), stream=True) as answer:
            content = answer.raw.read(IMAGE_MAX_BYTES + 1, decode_content=True) or b""
    except (requests.RequestException, OSError):
        raise ChatError("wechat_failed", _("WeChat could not be reached; try again shortly."), 502) from None
    picture = content.startswith(b"\x89PNG\r\n\x1a\n") or content.startswith(b"\xff\xd8\xff")  # PNG or JPEG
    if answer.status_code != 200 or not picture or len(content) > IMAGE_MAX_BYTES:
        raise ChatError("wechat_failed", _("WeChat did not give the QR code's picture."), 502)
    ttl = IMAGE_CACHE_SECONDS
    if qrcode.expires_at is not None:
        ttl = max(1, int((qrcode.expires_at - timezone.now()).total_seconds()))
    try:
        cache.set(key, content, timeout=ttl)
    except (RedisError, OSError) as exc:
        health.failed(health.REDIS, exc)
    return content


def qrcode_payload(qrcode: WechatQrCode) -> dict[str, Any]:
    """A code as the API answers it: our URL of its picture (never WeChat's), its content URL and expiry."""
    return {
        "id": qrcode.pk,
        "kind": qrcode.kind,
        "image": f"/api/v1/agent/wechat/qrcodes/{qrcode.pk}/image",
        "url": qrcode.url,
        "expires_at": qrcode.expires_at.isoformat() if qrcode.expires_at else None,
    }


# --- writes ---------------------------------------------------------------------------------------------


def _wechat_create(account: WechatAccount, body: dict[str, Any]) -> dict[str, Any]:
    try:
        answer = wechat_client(account).qrcode.create(body)
    except WechatError as error:
        logger.warning("wechat: account %s could not create a QR code: %s", account.pk, error)
        raise _wechat_failed(error) from None
    if not isinstance(answer, dict) or not isinstance(answer.get("ticket"), str) or not answer["ticket"]:
        raise ChatError("wechat_failed", _("WeChat did not give the QR code's picture."), 502)
    if len(answer["ticket"]) > 200:
        raise ChatError("wechat_failed", _("WeChat did not give the QR code's picture."), 502)
    return answer


def _agent_of_enterprise(agent: User) -> int:
    if not agent.is_active or agent.enterprise_id is None:
        raise forbidden()
    return int(agent.enterprise_id)


def bind_qrcode_create(*, agent: User) -> WechatQrCode:
    """A new single-use code binding `agent`'s WeChat, live BIND_SECONDS; the agent's older bind codes stop
    working. ChatError: `wechat_unavailable` (409: no enabled, complete account), `rate_limited` (429),
    `wechat_failed` (502: WeChat refused or is away)."""
    enterprise_id = _agent_of_enterprise(agent)
    account = usable_account(enterprise_id)
    if account is None:
        raise _unavailable()
    rate_limit(f"wechat-qr:agent:{agent.pk}", *QR_PER_AGENT)
    rate_limit(f"wechat-qr:ent:{enterprise_id}", *QR_PER_ENTERPRISE)
    scene = BIND_PREFIX + secrets.token_urlsafe(24)
    # WeChat's call before the transaction: no row lock is held while it answers.
    answer = _wechat_create(
        account,
        {"expire_seconds": BIND_SECONDS, "action_name": "QR_STR_SCENE", "action_info": {"scene": {"scene_str": scene}}},
    )
    now = timezone.now()
    with transaction.atomic():
        WechatQrCode.objects.filter(kind=Kind.BIND).filter(agent_id=agent.pk).delete()
        WechatQrCode.objects.filter(kind=Kind.BIND, account=account, expires_at__lt=now).delete()
        return WechatQrCode.objects.create(
            enterprise_id=enterprise_id,
            account=account,
            agent=agent,
            kind=Kind.BIND,
            scene=scene,
            ticket=answer["ticket"],
            url=str(answer.get("url") or "")[:200],
            expires_at=now + timedelta(seconds=BIND_SECONDS),
        )


def route_qrcode_get_or_create(*, actor: User, agent_id: int) -> WechatQrCode:
    """The permanent code routing visitors to agent `agent_id`, made at the first call and reused after. The
    actor asks for their own, or (with manage_agents) a colleague's of their enterprise. ChatError:
    `not_found` (404: no such active agent in the actor's enterprise), `forbidden`, `wechat_unavailable`,
    `rate_limited`, `wechat_failed`."""
    enterprise_id = _agent_of_enterprise(actor)
    if agent_id != actor.pk and not actor.has_perm(MANAGE_AGENTS):
        raise forbidden()
    agent = User.objects.filter(pk=agent_id, enterprise_id=enterprise_id, is_active=True).first()
    if agent is None:
        raise not_found(_("Agent"))
    account = usable_account(enterprise_id)
    if account is None:
        raise _unavailable()
    existing = WechatQrCode.objects.filter(account=account, agent=agent, kind=Kind.ROUTE).order_by("pk").first()
    if existing is not None:
        return existing
    rate_limit(f"wechat-qr:agent:{actor.pk}", *QR_PER_AGENT)
    rate_limit(f"wechat-qr:ent:{enterprise_id}", *QR_PER_ENTERPRISE)
    # One permanent code per agent: of two requests at once, one makes it (a lock in the shared cache, not the
    # agent's row, which routing locks and must not wait on WeChat), the other waits for it.
    lock = f"wechat:route-qr-lock:{account.pk}:{agent.pk}"
    deadline = time.monotonic() + api_timeout() + 2
    while not _lock_take(lock):
        existing = WechatQrCode.objects.filter(account=account, agent=agent, kind=Kind.ROUTE).order_by("pk").first()
        if existing is not None:
            return existing
        if time.monotonic() > deadline:
            raise ChatError("wechat_failed", _("WeChat could not be reached; try again shortly."), 502)
        time.sleep(0.1)
    try:
        existing = WechatQrCode.objects.filter(account=account, agent=agent, kind=Kind.ROUTE).order_by("pk").first()
        if existing is not None:
            return existing
        scene = ROUTE_PREFIX + secrets.token_urlsafe(18)
        answer = _wechat_create(
            account, {"action_name": "QR_LIMIT_STR_SCENE", "action_info": {"scene": {"scene_str": scene}}}
        )
        return WechatQrCode.objects.create(
            enterprise_id=enterprise_id,
            account=account,
            agent=agent,
            kind=Kind.ROUTE,
            scene=scene,
            ticket=answer["ticket"],
            url=str(answer.get("url") or "")[:200],
            expires_at=None,
        )
    finally:
        _lock_release(lock)


def _lock_take(key: str) -> bool:
    """Whether this request took `key` (True too when the cache is away: better two codes than none)."""
    try:
        return bool(cache.add(key, 1, timeout=int(api_timeout()) + 5))
    except (RedisError, OSError) as exc:
        health.failed(health.REDIS, exc)
        return True


def _lock_release(key: str) -> None:
    try:
        cache.delete(key)
    except (RedisError, OSError) as exc:
        health.failed(health.REDIS, exc)


def binding_delete(*, agent: User) -> None:
    """Unbind the agent's WeChat (nothing to do if none); the agent's consoles are told."""
    with transaction.atomic():
        deleted, _rows = WechatAgentBinding.objects.filter(agent_id=agent.pk).delete()
        if deleted:
            publish_on_commit([(group_agent(agent.pk), agent_binding_frame(None))])


# --- scans (wechat.inbound) ------------------------------------------------------------------------------


def is_bind_scene(scene: str) -> bool:
    return scene.startswith(BIND_PREFIX)


def _confirm(account: WechatAccount, openid: str, text: str) -> None:
    """Tell the scanner how it went, as a customer-service text after the commit, in the sender's threads
    (a scan opens WeChat's window for it); best effort."""

    def send() -> None:
        try:
            wechat_client(account).message.send_text(openid, text)
        except WechatError as error:
            logger.info("wechat: the scan answer of account %s was not sent: %s", account.pk, error)

    from .outbound import _submit

    transaction.on_commit(partial(_submit, send))


def _seen(account: WechatAccount, client_id: str) -> bool:
    try:
        return bool(cache.get(f"wechat:scan:{account.pk}:{client_id}"))
    except (RedisError, OSError) as exc:
        health.failed(health.REDIS, exc)
        return False


def _remember(account: WechatAccount, client_id: str) -> None:
    try:
        cache.set(f"wechat:scan:{account.pk}:{client_id}", 1, timeout=_SCAN_SEEN_SECONDS)
    except (RedisError, OSError) as exc:
        health.failed(health.REDIS, exc)


def _live_bind_code(account: WechatAccount, scene: str, now: datetime) -> WechatQrCode | None:
    code = (
        WechatQrCode.objects.select_for_update()
        .filter(account=account, scene=scene, kind=Kind.BIND, expires_at__gt=now)
        .first()
    )
    if code is None:
        return None
    agent = User.objects.filter(pk=code.agent_id, enterprise_id=account.enterprise_id, is_active=True).first()
    if agent is None:
        code.delete()
        return None
    code.agent = agent
    return code


def bind_scan(*, account: WechatAccount, openid: str, scene: str, client_id: str, nickname: str = "") -> bool:
    """A bind code scanned by `openid`: bind it to the code's agent (moving it from another agent of the
    account), consume the code, tell both consoles and the scanner. Whether it bound. WeChat's retry of the
    same event does nothing."""
    if not openid or _seen(account, client_id):
        return False
    now = timezone.now()
    with transaction.atomic():
        code = _live_bind_code(account, scene, now)
        if code is None:
            _confirm(
                account, openid, _("This QR code has expired or was already used. Ask for a new one in the console.")
            )
            transaction.on_commit(partial(_remember, account, client_id))
            return False
        agent = code.agent
        code.delete()
        frames = []
        previous = WechatAgentBinding.objects.select_for_update().filter(account=account, openid=openid).first()
        if previous is not None and previous.agent_id != agent.pk:
            previous.delete()
            frames.append((group_agent(previous.agent_id), agent_binding_frame(None)))
        binding = WechatAgentBinding.objects.filter(agent=agent).first()
        if binding is None:
            binding = WechatAgentBinding(agent=agent)
        binding.enterprise_id = account.enterprise_id
        binding.account = account
        binding.openid = openid
        binding.nickname = nickname[:100]
        binding.bound_at = now
        binding.failures = 0
        binding.next_attempt_at = None
        binding.last_error = ""
        binding.save()
        frames.append((group_agent(agent.pk), agent_binding_frame(binding_payload(binding))))
        publish_on_commit(frames)
        _confirm(
            account,
            openid,
            _("This WeChat is now bound to the agent %(name)s: GoFly's alerts come here.")
            % {"name": agent.display_name},
        )
        transaction.on_commit(partial(_remember, account, client_id))
    logger.info("wechat: agent %s bound a WeChat of account %s", agent.pk, account.pk)
    return True


def binding_unfollowed(*, account: WechatAccount, openid: str) -> bool:
    """`openid` unfollowed the account: an agent's binding to it ends (WeChat sends nothing more to it) and
    that agent's consoles are told. Whether it was an agent's WeChat only, with no visitor of the account."""
    with transaction.atomic():
        binding = WechatAgentBinding.objects.select_for_update().filter(account=account, openid=openid).first()
        if binding is None:
            return False
        binding.delete()
        publish_on_commit([(group_agent(binding.agent_id), agent_binding_frame(None))])
    return not WechatFollower.objects.filter(account=account, openid=openid).exists()


def route_scan(*, account: WechatAccount, visitor: Visitor, scene: str) -> bool:
    """A route code scanned by the follower `visitor`: the code's agent becomes their routing preference.
    Whether it was set (an unknown scene, or an agent disabled, deleted or of another enterprise: no)."""
    if not scene.startswith(ROUTE_PREFIX):
        return False
    code = WechatQrCode.objects.filter(account=account, scene=scene, kind=Kind.ROUTE).first()
    if code is None or code.enterprise_id != account.enterprise_id:
        return False
    return chat_services.visitor_agent_prefer(visitor=visitor, agent_id=code.agent_id)
