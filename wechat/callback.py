"""WeChat's callback (服务器地址): the URL check (GET) and the messages and events followers send (POST),
checked before anything is parsed or stored, then handed to wechat.inbound.

Refused with a 4xx, nothing stored: a bad signature; a timestamp more than REPLAY_WINDOW seconds from now;
a nonce seen before within the window (per account, in the shared cache); a body over BODY_MAX or empty,
not UTF-8, not XML or with a DOCTYPE or entity declaration (refused before any parser sees it: no XML
bomb); a safe-mode message that does not decrypt for this account (wechatpy checks the AppID inside it).
An unknown or disabled callback key is a 404 like any missing page. A message is answered "success" once
stored: WeChat waits 5 s and retries three times; a retry is stored once (wechat.inbound).
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods
from redis.exceptions import RedisError
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.utils import check_signature

from core import health

from . import inbound
from .models import MessageMode, WechatAccount
from .selectors import wechat_account_for_callback

logger = logging.getLogger(__name__)

REPLAY_WINDOW = 300  # seconds either side of now
BODY_MAX = 64 * 1024
_FORBIDDEN = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_PARSE_ERRORS = (ValueError, KeyError, TypeError, AttributeError, IndexError)


class _RefusedError(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _answer(text: str, status: int = 200) -> HttpResponse:
    return HttpResponse(text, status=status, content_type="text/plain; charset=utf-8")


def _fresh(timestamp: str) -> None:
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > REPLAY_WINDOW:
        raise _RefusedError(403, "stale timestamp")


def _signed(account: WechatAccount, query: Any) -> None:
    try:
        check_signature(account.token, query.get("signature", ""), query.get("timestamp", ""), query.get("nonce", ""))
    except InvalidSignatureException:
        raise _RefusedError(403, "bad signature") from None


def _nonce_unused(account: WechatAccount, nonce: str) -> None:
    if not nonce or len(nonce) > 64:
        raise _RefusedError(400, "bad nonce")
    try:
        first = cache.add(f"wechat:nonce:{account.pk}:{nonce}", 1, timeout=2 * REPLAY_WINDOW + 10)
    except (RedisError, OSError) as exc:  # without the cache a replay cannot be told: refuse, WeChat retries
        health.failed(health.REDIS, exc)
        raise _RefusedError(503, "cache unavailable") from None
    if not first:
        raise _RefusedError(403, "nonce reused")


def _nonce_release(account: WechatAccount, nonce: str) -> None:
    try:
        cache.delete(f"wechat:nonce:{account.pk}:{nonce}")
    except (RedisError, OSError) as exc:
        health.failed(health.REDIS, exc)


def _crypto(account: WechatAccount) -> WeChatCrypto:
    try:
        return WeChatCrypto(account.token, account.encoding_aes_key, account.app_id)
    except Exception:  # a lost or malformed AES key: the account cannot decrypt
        raise _RefusedError(403, "no usable EncodingAESKey") from None


def _verify(request: HttpRequest, account: WechatAccount) -> HttpResponse:
    """WeChat's URL check: echo `echostr` when the signature holds (in safe mode also its msg_signature form,
    where the echostr is encrypted)."""
    query = request.GET
    _fresh(query.get("timestamp", ""))
    echostr = query.get("echostr", "")
    if not echostr or len(echostr) > 1024:
        raise _RefusedError(400, "no echostr")
    if "msg_signature" in query and account.message_mode != MessageMode.PLAINTEXT:
        try:
            echoed = _crypto(account).check_signature(
                query["msg_signature"], query.get("timestamp", ""), query.get("nonce", ""), echostr
            )
        except (InvalidSignatureException, InvalidAppIdException, *_PARSE_ERRORS):
            raise _RefusedError(403, "bad signature") from None
        return _answer(echoed.decode() if isinstance(echoed, bytes) else str(echoed))
    _signed(account, query)
    return _answer(echostr)


def _body(request: HttpRequest) -> str:
    body = request.read(BODY_MAX + 1)  # never more: a chunked body has no length to check first
    if len(body) > BODY_MAX:
        raise _RefusedError(413, "body too large")
    return _xml_text(body)


def _xml_text(body: bytes) -> str:
    if _FORBIDDEN.search(body):
        raise _RefusedError(400, "DOCTYPE or entity")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise _RefusedError(400, "not UTF-8") from None
    if not text.lstrip().startswith("<xml"):
        raise _RefusedError(400, "not XML")
    return text


def _plaintext(request: HttpRequest, account: WechatAccount, body: str) -> str:
    """The message's XML: the body itself, or decrypted from it (safe mode; compatible mode when encrypted)."""
    query = request.GET
    encrypted = query.get("encrypt_type", "raw") == "aes"
    if account.message_mode == MessageMode.SAFE and not encrypted:
        raise _RefusedError(403, "not encrypted")
    if account.message_mode == MessageMode.PLAINTEXT or not encrypted:
        return body
    try:
        xml = _crypto(account).decrypt_message(
            body, query.get("msg_signature", ""), query.get("timestamp", ""), query.get("nonce", "")
        )
    except (InvalidSignatureException, InvalidAppIdException):
        raise _RefusedError(403, "bad signature") from None
    except Exception:  # wechatpy raises what its parser and cipher raise for a bad envelope
        raise _RefusedError(400, "undecryptable") from None
    return _xml_text(xml if isinstance(xml, bytes) else str(xml).encode("utf-8"))


def _parsed(xml: str) -> inbound.Inbound:
    try:
        message = parse_message(xml)
    except _PARSE_ERRORS:
        raise _RefusedError(400, "malformed") from None
    except Exception:  # expat's errors: not XML after all
        raise _RefusedError(400, "malformed") from None
    fields = getattr(message, "_data", None)
    if message is None or not isinstance(fields, dict):
        raise _RefusedError(400, "malformed")
    if not all(isinstance(fields.get(name), str) for name in ("FromUserName", "ToUserName", "MsgType")):
        raise _RefusedError(400, "malformed")
    return inbound.Inbound(message=message, fields=fields)


def _receive(request: HttpRequest, account: WechatAccount) -> HttpResponse:
    query = request.GET
    body = _body(request)  # size first: nothing of a huge body is checked or kept
    _fresh(query.get("timestamp", ""))
    _signed(account, query)
    nonce = query.get("nonce", "")
    _nonce_unused(account, nonce)
    try:
        received = _parsed(_plaintext(request, account, body))
        inbound.callback_receive(account=account, inbound=received)
    except BaseException:
        # Not received (the database away, a bug): WeChat's retry of this very request must not be taken for
        # a replay. A replay of it that did arrive is stored once anyway (MsgId).
        _nonce_release(account, nonce)
        raise
    return _answer("success")


@csrf_exempt
@require_http_methods(["GET", "POST"])
def wechat_callback(request: HttpRequest, callback_key: str) -> HttpResponse:
    """The account's callback URL (module docstring). No session, no cookie: WeChat sends neither."""
    account = wechat_account_for_callback(callback_key)
    if account is None or not account.token:
        raise Http404
    try:
        if request.method == "GET":
            return _verify(request, account)
        return _receive(request, account)
    except inbound.ReceiveLaterError as later:
        logger.warning("wechat callback of account %s deferred: %s", account.pk, later)
        return _answer("busy", 503)
    except _RefusedError as refused:
        logger.info("wechat callback of account %s refused: %s", account.pk, refused.reason)
        return _answer(refused.reason, refused.status)
