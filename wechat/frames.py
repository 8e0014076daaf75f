"""The frames the WeChat channel sends to agents' consoles, and the delivery state kept in a message's meta
(docs/protocol.md, section 6.13)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chat.frames import frame

if TYPE_CHECKING:
    from .models import WechatAgentBinding, WechatDelivery

CHANNEL = "wechat"
META_KEY = "delivery"  # the key of a message's meta that holds its delivery state after something went wrong
# A failed delivery's `notice`: a template message told the follower there is a reply (wechat.alerts).
NOTICE_TEMPLATE = "template"


def delivery_state(delivery: WechatDelivery, *, notice: str | None = None) -> dict[str, Any]:
    """How the sending of one message to WeChat went: what the frame carries and what history shows. The key
    `notice` is there only when something told the follower instead (NOTICE_TEMPLATE), so that earlier
    frames and metas keep their shape."""
    state: dict[str, Any] = {
        "channel": CHANNEL,
        "status": delivery.status,
        "errcode": delivery.errcode,
        "reason": delivery.reason,
    }
    if notice:
        state["notice"] = notice
    return state


def message_delivery_event(delivery: WechatDelivery, *, notice: str | None = None) -> dict[str, Any]:
    """To the enterprise's agents: a message's delivery to its WeChat follower changed status (pending with a
    retry ahead, sent, failed with WeChat's errcode and a reason in words; `notice` "template" when the
    follower was told of it by a template message instead). `delivery.message.visitor` is read: load it with
    the delivery."""
    return frame(
        "message.delivery",
        {
            "message_id": delivery.message_id,
            "visitor_id": delivery.message.visitor.visitor_id,
            **delivery_state(delivery, notice=notice),
        },
    )


def binding_payload(binding: WechatAgentBinding) -> dict[str, Any]:
    """An agent's WeChat binding as their console sees it (never the openid)."""
    return {
        "nickname": binding.nickname,
        "bound_at": binding.bound_at.isoformat() if binding.bound_at else None,
        "alerts_enabled": binding.alerts_enabled,
    }


def agent_binding_frame(payload: dict[str, Any] | None) -> dict[str, Any]:
    """To one agent's sockets: their WeChat was bound (the binding) or unbound (null), by a scan or from a
    console (docs/protocol.md, section 6.14)."""
    return frame("wechat.binding", {"binding": payload})
