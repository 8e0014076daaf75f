"""What arrives from WeChat, stored: a follower's message as their visitor's (through chat's message service,
so routing, the queue, keyword replies, tags, the blacklist and alerts work as for a web visitor) and the
follow, unfollow and scan events. Called by wechat.callback once a callback is checked and parsed.

A follower's GoFly visitor has a public id that does not reveal the openid ("wx-" and a keyed hash of the
account and the openid). A retried callback stores nothing twice: a message's client_id is "wx-" and its
MsgId, an event's "wx-ev-" and who sent it when. WeChat's own failures (user info, media) never cost the
message: the follower gets a plain name, a media message that cannot be kept a text saying what arrived and why.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _
from django.utils.translation import override

from chat import services as chat_services
from chat.access import visitor_block_active
from chat.models import Message, Visitor
from chat.uploads import upload_store
from chat.workspace import visitor_tag_set_by_system
from core.errors import ChatError
from core.savepoints import nested_savepoint

from . import qrcodes
from .client import WechatError, wechat_client
from .models import WechatAccount, WechatFollower

logger = logging.getLogger(__name__)

CHANNEL = "wechat"
FOLLOWED_TAG = "followed"
USER_INFO_TIMEOUT = 1.5  # seconds: WeChat waits 5 s for the callback's answer
MEDIA_TIMEOUT = 3.0
EXTRA_SCENE = "wechat_scene"
EXTRA_MENU_KEY = "wechat_menu_key"  # the key of the custom menu's click button the follower last pressed
_NAME_SUFFIX = 4


@dataclass(frozen=True)
class Inbound:
    """One checked callback: the parsed wechatpy message or event, and its raw fields."""

    message: Any  # a wechatpy message or event
    fields: dict[str, Any]

    @property
    def openid(self) -> str:
        return str(self.fields.get("FromUserName") or "")

    @property
    def client_id(self) -> str:
        msg_id = str(self.fields.get("MsgId") or "")
        if msg_id:
            return f"wx-{msg_id}"[:64]
        event = str(self.fields.get("Event") or "")
        return f"wx-ev-{self.openid}{self.fields.get('CreateTime') or ''}{event}"[:64]


def follower_public_id(account: WechatAccount, openid: str) -> str:
    """The follower's visitor id: stable per (account, openid), and the openid cannot be read from it."""
    digest = salted_hmac("gofly.wechat.follower", f"{account.pk}:{openid}", algorithm="sha256").hexdigest()
    return f"wx-{digest[:32]}"


# --- the follower ---------------------------------------------------------------------------------------


def _user_info(account: WechatAccount, openid: str) -> dict[str, Any]:
    """WeChat's profile of the follower, best effort (short timeout; {} on any failure)."""
    try:
        client = wechat_client(account)
        client.timeout = USER_INFO_TIMEOUT
        info = client.user.get(openid)
    except (WechatError, ValueError, KeyError, TypeError) as exc:
        logger.info("wechat: no user info for a follower of account %s: %s", account.pk, exc)
        return {}
    return info if isinstance(info, dict) else {}


def _default_name(openid: str) -> str:
    return _("WeChat user %(code)s") % {"code": openid[-_NAME_SUFFIX:].upper()}


def _follower_create(account: WechatAccount, openid: str) -> WechatFollower:
    """A new follower and its visitor, named from WeChat's profile when WeChat gives one in time."""
    info = _user_info(account, openid)
    nickname = str(info.get("nickname") or "").strip()[:100]
    avatar = str(info.get("headimgurl") or "")[:500]
    with override(None):
        name = nickname or _default_name(openid)
    visitor, _created = chat_services.channel_visitor_get_or_create(
        enterprise=account.enterprise,
        channel=CHANNEL,
        public_id=follower_public_id(account, openid),
        name=name,
        avatar=avatar if avatar.startswith("https://") else "",
    )
    follower = WechatFollower(
        enterprise_id=account.enterprise_id,
        account=account,
        openid=openid,
        visitor=visitor,
        subscribed=bool(info.get("subscribe", 1)),
        nickname=nickname,
        avatar=avatar,
        language=str(info.get("language") or "")[:20],
    )
    try:
        with nested_savepoint():
            follower.save(force_insert=True)
    except IntegrityError:  # the same follower's other callback (WeChat's retry) got there first
        follower = WechatFollower.objects.select_related("visitor__block").get(account=account, openid=openid)
    follower.visitor = visitor if follower.visitor_id == visitor.pk else follower.visitor
    return follower


def follower_get_or_create(*, account: WechatAccount, openid: str) -> WechatFollower:
    """The account's follower `openid`, with its visitor (and the visitor's block) loaded."""
    follower = (
        WechatFollower.objects.select_related("visitor__block", "visitor__enterprise")
        .filter(account=account, openid=openid)
        .first()
    )
    if follower is None:
        follower = _follower_create(account, openid)
    follower.visitor.enterprise = account.enterprise
    return follower


def follower_authorised(
    *, account: WechatAccount, openid: str, scope: str, nickname: str = "", avatar: str = ""
) -> WechatFollower:
    """The follower who authorised the visitor page (web OAuth, wechat.oauth), found or created like one who
    writes, with when and under which scope; the nickname and picture snsapi_userinfo gave, when it gave them."""
    follower = follower_get_or_create(account=account, openid=openid)
    now = timezone.now()
    fields: dict[str, Any] = {"oauth_at": now, "oauth_scope": scope}
    nickname, avatar = nickname.strip()[:100], avatar.strip()[:500]
    if nickname:
        fields["nickname"] = nickname
    if avatar:
        fields["avatar"] = avatar
    WechatFollower.objects.filter(pk=follower.pk).update(**fields)
    for name, value in fields.items():
        setattr(follower, name, value)
    if nickname or avatar:
        chat_services.channel_visitor_profile_set(visitor=follower.visitor, name=nickname, avatar=avatar)
    return follower


# --- messages -------------------------------------------------------------------------------------------


def _already_stored(visitor: Visitor, client_id: str) -> bool:
    return Message.objects.filter(visitor=visitor, sender=Message.Sender.VISITOR, client_id=client_id).exists()


def _fetch_media(account: WechatAccount, media_id: str, limit: int) -> tuple[bytes, str]:
    """The media's bytes and WeChat's file name; WechatError when WeChat does not give it, ValueError when it
    is larger than `limit` bytes."""
    client = wechat_client(account)
    client.timeout = MEDIA_TIMEOUT
    answer = client.media.download(media_id)
    content = getattr(answer, "content", b"")
    if not isinstance(content, bytes) or not content:
        raise WechatError(None, "no media content")
    if len(content) > limit:
        raise ValueError("too large")
    disposition = str(answer.headers.get("Content-disposition") or "")
    name = disposition.partition("filename=")[2].strip('"; ') or "media"
    return content, name


def _media_message(
    account: WechatAccount, visitor: Visitor, inbound: Inbound, what: str, max_mb: int
) -> chat_services.NewMessage:
    """A message naming the follower's media as an upload, or a text saying what arrived and why it is missing."""
    media_id = str(getattr(inbound.message, "media_id", "") or "")
    client_id = inbound.client_id
    reason = ""
    try:
        content, name = _fetch_media(account, media_id, max_mb * 1024 * 1024)
        attachment, _created = upload_store(
            visitor=visitor, agent=None, upload_id=client_id, upload=SimpleUploadedFile(name, content)
        )
    except ValueError:
        reason = _("it is larger than %(limit)d MB") % {"limit": max_mb}
    except WechatError as exc:
        reason = _("WeChat did not give it (%(error)s)") % {"error": exc.errcode or exc.errmsg}
    except ChatError as exc:
        reason = str(exc.message)
    else:
        return chat_services.NewMessage(
            visitor, Message.Sender.VISITOR, None, client_id, attachment=attachment.key, meta={"wechat": what}
        )
    kinds = {"image": _("An image"), "voice": _("A voice message"), "video": _("A video")}
    text = _("[%(what)s arrived from WeChat; it could not be kept as a file: %(reason)s]") % {
        "what": kinds.get(what, what),
        "reason": reason,
    }
    return chat_services.NewMessage(
        visitor, Message.Sender.VISITOR, text, client_id, meta={"wechat": what, "media_missing": True}
    )


def _location_text(message: Any) -> tuple[str, dict[str, Any]]:
    lat, lng = str(message.location_x or ""), str(message.location_y or "")
    label = str(message.label or "").strip()
    text = f"📍 {label} ({lat}, {lng})" if label else f"📍 ({lat}, {lng})"
    return text, {"wechat": "location", "latitude": lat, "longitude": lng, "label": label}


def _new_message(account: WechatAccount, visitor: Visitor, inbound: Inbound) -> chat_services.NewMessage | None:
    """What the follower's message becomes in the chat; None for a kind GoFly does not store."""
    message = inbound.message
    kind = message.type
    client_id = inbound.client_id
    sender = Message.Sender.VISITOR
    enterprise = visitor.enterprise
    if kind == "text":
        return chat_services.NewMessage(visitor, sender, message.content, client_id)
    if kind == "location":
        text, meta = _location_text(message)
        return chat_services.NewMessage(visitor, sender, text, client_id, meta=meta)
    if kind == "link":
        title, url = str(message.title or "").strip(), str(message.url or "").strip()
        return chat_services.NewMessage(
            visitor, sender, f"🔗 {title}\n{url}".strip(), client_id, meta={"wechat": "link", "url": url}
        )
    if kind == "voice" and str(message.recognition or "").strip():
        return chat_services.NewMessage(
            visitor, sender, f"🎤 {message.recognition.strip()}", client_id, meta={"wechat": "voice"}
        )
    if kind in ("image", "voice"):
        return _media_message(
            account,
            visitor,
            inbound,
            kind,
            enterprise.upload_image_max_mb if kind == "image" else enterprise.upload_file_max_mb,
        )
    if kind in ("video", "shortvideo"):
        return _media_message(account, visitor, inbound, "video", enterprise.upload_file_max_mb)
    return None


def _window_open(follower: WechatFollower, now: datetime, **fields: Any) -> None:
    """The follower wrote (or followed): WeChat's 48-hour window for customer-service messages starts now."""
    follower.last_inbound_at = now
    for name, value in fields.items():
        setattr(follower, name, value)
    WechatFollower.objects.filter(pk=follower.pk).update(last_inbound_at=now, **fields)


def _blocked(follower: WechatFollower) -> bool:
    # The web login's rule (chat.services.visitors.visitor_login): a visitor under a live block is refused.
    return visitor_block_active(follower.visitor) is not None


class ReceiveLaterError(Exception):
    """The message could not be taken now (the follower's message rate): WeChat is asked to send it again."""


def message_receive(*, account: WechatAccount, inbound: Inbound) -> Message | None:
    """Store the follower's message as their visitor's, once; the stored message (None: nothing stored)."""
    follower = follower_get_or_create(account=account, openid=inbound.openid)
    if _blocked(follower):
        return None
    visitor = follower.visitor
    _window_open(follower, timezone.now())
    if _already_stored(visitor, inbound.client_id):  # WeChat's retry: fetch no media again
        return None
    new = _new_message(account, visitor, inbound)
    if new is None:
        return None
    result = chat_services.messages_create([new])[0]
    if isinstance(result, ChatError) and result.code == "rate_limited":
        # Not dropped: the callback answers "try again" and WeChat sends it again (stored once, by MsgId).
        raise ReceiveLaterError(result.message)
    if isinstance(result, Exception):
        logger.warning("wechat: a follower's message of account %s was refused: %r", account.pk, result)
        return None
    return result[0]


# --- events ---------------------------------------------------------------------------------------------


def _greeting(account: WechatAccount, follower: WechatFollower) -> str:
    if follower.language.lower().startswith("en"):
        return account.greeting_en.strip() or account.greeting.strip()
    return account.greeting.strip()


def _scene_record(visitor: Visitor, scene: str) -> None:
    if scene:
        chat_services.visitor_extra_merge(visitor=visitor, values={EXTRA_SCENE: scene[:64]})


def _menu_key_record(visitor: Visitor, key: str) -> None:
    if key:
        chat_services.visitor_extra_merge(visitor=visitor, values={EXTRA_MENU_KEY: key[:128]})


def _subscribe(account: WechatAccount, follower: WechatFollower, inbound: Inbound, now: datetime) -> None:
    visitor = follower.visitor
    _window_open(follower, now, subscribed=True, subscribed_at=now)
    _scene_record(visitor, str(getattr(inbound.message, "scene_id", "") or ""))
    visitor_tag_set_by_system(visitor=visitor, name=FOLLOWED_TAG, on=True)
    text = _greeting(account, follower)
    if text:  # once per subscribe event: its client_id is the event's, so a retry stores nothing new
        try:
            chat_services.message_automatic_create(
                visitor=visitor, content=text, client_id=inbound.client_id, meta={"auto": "greeting"}
            )
        except ChatError as exc:
            logger.warning("wechat: the greeting of account %s was refused: %r", account.pk, exc)


def _bind_scan(account: WechatAccount, inbound: Inbound, scene: str) -> None:
    """An agent scanned the bind code of their console (wechat.qrcodes): no follower, no visitor, no greeting."""
    nickname = str(_user_info(account, inbound.openid).get("nickname") or "").strip()
    qrcodes.bind_scan(
        account=account, openid=inbound.openid, scene=scene, client_id=inbound.client_id, nickname=nickname
    )


def event_receive(*, account: WechatAccount, inbound: Inbound) -> None:
    """A follow, unfollow, scan or menu click: the follower's state, the greeting, the "followed" tag, the
    scene, the menu key last clicked; an agent's bind scan and a visitor's route scan (wechat.qrcodes)."""
    event = str(getattr(inbound.message, "event", "") or "")
    if event not in ("subscribe", "subscribe_scan", "unsubscribe", "scan", "click"):
        return
    scene = str(getattr(inbound.message, "scene_id", "") or "") if event in ("subscribe_scan", "scan") else ""
    if qrcodes.is_bind_scene(scene):
        _bind_scan(account, inbound, scene)
        return
    if event == "unsubscribe" and qrcodes.binding_unfollowed(account=account, openid=inbound.openid):
        return  # an agent's WeChat that never wrote as a visitor: no visitor to make for its unfollow
    follower = follower_get_or_create(account=account, openid=inbound.openid)
    if _blocked(follower):
        return
    now = timezone.now()
    with transaction.atomic():
        if scene:  # before the greeting, which opens (and routes) the follower's conversation
            qrcodes.route_scan(account=account, visitor=follower.visitor, scene=scene)
        if event == "unsubscribe":
            follower.subscribed, follower.unsubscribed_at = False, now
            WechatFollower.objects.filter(pk=follower.pk).update(subscribed=False, unsubscribed_at=now)
            visitor_tag_set_by_system(visitor=follower.visitor, name=FOLLOWED_TAG, on=False)
        elif event == "scan":
            _window_open(follower, now)
            _scene_record(follower.visitor, scene)
        elif event == "click":
            # A menu click opens WeChat's 48-hour window like a message; its key is kept on the visitor for
            # agents (no message, no conversation: a click is not something to answer).
            _window_open(follower, now)
            _menu_key_record(follower.visitor, str(getattr(inbound.message, "key", "") or ""))
        else:
            _subscribe(account, follower, inbound, now)


def callback_receive(*, account: WechatAccount, inbound: Inbound) -> None:
    """A checked callback's message or event, stored (wechat.callback answers WeChat "success" after)."""
    if not inbound.openid:
        return
    if inbound.message.type == "event":
        event_receive(account=account, inbound=inbound)
    else:
        message_receive(account=account, inbound=inbound)
