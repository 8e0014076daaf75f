"""The shape of the frames the WeChat channel sends to agents (wechat/frames.py; docs/protocol.md 6.13)."""

from __future__ import annotations

from chat.models import Message, Visitor
from wechat.frames import META_KEY, NOTICE_TEMPLATE, delivery_state, message_delivery_event
from wechat.models import WechatDelivery


def _delivery(**fields: object) -> WechatDelivery:
    visitor = Visitor(visitor_id="wx.o123", channel="wechat")
    message = Message(pk=41, visitor=visitor)
    return WechatDelivery(message=message, **fields)


def test_message_delivery_names_the_message_its_visitor_the_channel_and_the_outcome():
    delivery = _delivery(status="failed", errcode=45015, reason="Outside the 48-hour window.")
    assert message_delivery_event(delivery) == {
        "type": "message.delivery",
        "data": {
            "message_id": 41,
            "visitor_id": "wx.o123",
            "channel": "wechat",
            "status": "failed",
            "errcode": 45015,
            "reason": "Outside the 48-hour window.",
        },
    }


def test_a_sent_delivery_has_no_errcode_and_no_reason_and_history_keeps_the_same_fields():
    delivery = _delivery(status="sent")
    data = message_delivery_event(delivery)["data"]
    assert (data["status"], data["errcode"], data["reason"]) == ("sent", None, "")
    assert delivery_state(delivery) == {key: data[key] for key in ("channel", "status", "errcode", "reason")}
    assert META_KEY == "delivery"  # the console reads message.meta.delivery


def test_a_template_notice_adds_one_key_and_only_then():
    delivery = _delivery(status="failed", errcode=None, reason="Outside the window. A template message told them.")
    data = message_delivery_event(delivery, notice=NOTICE_TEMPLATE)["data"]
    assert data == {
        "message_id": 41,
        "visitor_id": "wx.o123",
        "channel": "wechat",
        "status": "failed",
        "errcode": None,
        "reason": "Outside the window. A template message told them.",
        "notice": "template",
    }
    assert delivery_state(delivery, notice=NOTICE_TEMPLATE)["notice"] == "template"
    assert "notice" not in message_delivery_event(delivery)["data"] and "notice" not in delivery_state(delivery)
