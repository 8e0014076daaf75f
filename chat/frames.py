"""Every websocket frame and channel-layer event of the chat, in one place (see docs/protocol.md).

A frame is JSON text `{"type": str, "data": object}` in both directions. Channel-layer events carry a
ready-made frame under "frame" so that a consumer forwards it without rebuilding it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings

from core import jsonin
from core.safety import avatar_or

from . import hooks
from .models import Conversation, Message, Tag, Visitor, VisitorPage

if TYPE_CHECKING:
    from accounts.models import User

# Client -> server frame types, per side.
VISITOR_FRAMES = {"ping", "sync", "message.send", "typing", "read", "conversation.close", "page"}
AGENT_FRAMES = {
    "ping",
    "sync",
    "message.send",
    "typing",
    "read",
    "status.set",
    "conversation.take",
    "conversation.transfer",
    "conversation.close",
    "conversation.reopen",
}

# Close codes (4000-4999 are ours).
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_TOO_MANY = 4429  # too many sockets of one visitor, agent or address (chat.realtime.lifecycle.socket_admit)


class FrameError(Exception):
    """A client frame we refuse; answered with an `error` frame, the connection stays open."""

    def __init__(self, code: str, message: str, ref: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.ref = ref


# --- groups -----------------------------------------------------------------------------------------


def group_agents(enterprise_id: int) -> str:
    return f"ent.{enterprise_id}.agents"


def group_visitors(enterprise_id: int) -> str:
    return f"ent.{enterprise_id}.visitors"


def group_visitor(visitor_pk: int) -> str:
    return f"visitor.{visitor_pk}"


def group_agent(agent_pk: int) -> str:
    """Every socket of one agent, on every process: for what concerns that user alone."""
    return f"agent.{agent_pk}"


# --- parsing ---------------------------------------------------------------------------------------


def parse(text: str | None, allowed: set[str]) -> tuple[str, dict[str, Any]]:
    """The (type, data) of a client frame, or FrameError saying what is wrong with it."""
    if text is None:
        raise FrameError("bad_frame", "Frames must be JSON text, not binary.")
    limit = settings.GOFLY["FRAME_MAX_BYTES"]
    if len(text) > limit or (len(text) * 4 > limit and len(text.encode("utf-8")) > limit):
        raise FrameError("too_large", f"Frames are limited to {limit} bytes of UTF-8.")
    try:
        frame = jsonin.loads(text)
    except jsonin.InputError as exc:
        if exc.code == "parse_error":
            raise FrameError("bad_frame", "Frame is not valid JSON.") from None
        # bad_text, too_deep: refused here, whole, so that no handler, batch or error frame ever holds it.
        raise FrameError(exc.code, exc.message) from None
    if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
        raise FrameError("bad_frame", 'Frame must be an object with a string "type".')
    kind = frame["type"]
    data = frame.get("data")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise FrameError("bad_frame", '"data" must be an object.')
    if kind not in allowed:
        raise FrameError("unknown_type", f"Unknown frame type {kind[:40]!r}.")
    return kind, data


def require_int(data: dict[str, Any], key: str, *, minimum: int = 0, default: int | None = None) -> int:
    """An integer the whole stack can carry: msgpack in the channel layer and BIGINT stop at 64 bits."""
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= jsonin.MAX_INT:
        raise FrameError("bad_frame", f'"{key}" must be an integer from {minimum} to {jsonin.MAX_INT}.')
    return value


def agent_brief(agent: User | None) -> dict[str, Any] | None:
    """An agent as everyone may see them: visitors included."""
    return {"id": agent.pk, "name": agent.display_name, "avatar": agent.avatar_url} if agent is not None else None


def message_payload(message: Message, visitor_public_id: str) -> dict[str, Any]:
    agent = message.agent if message.agent_id else None
    payload = {
        "id": message.pk,
        "client_id": message.client_id,
        "visitor_id": visitor_public_id,
        "conversation_id": message.conversation_id,
        "sender": message.sender,
        "kind": message.kind,
        "content": message.content,
        "created_at": message.created_at.isoformat(),
        "read_at": message.read_at.isoformat() if message.read_at else None,
        "agent": agent_brief(agent),
    }
    if message.kind == Message.Kind.EVENT:
        payload["meta"] = message.meta or {}
    elif message.meta:  # a left message (services.offline_message_leave): who left it and how to reach them
        payload["meta"] = message.meta
    return payload


def _time(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def conversation_payload(conversation: Conversation, visitor_public_id: str) -> dict[str, Any]:
    """A conversation as agents see it (the console's lists, `conversation.updated`); `assignee` loaded."""
    return {
        "id": conversation.pk,
        "visitor_id": visitor_public_id,
        "channel": conversation.channel,
        "status": conversation.status,
        "assignee": agent_brief(conversation.assignee if conversation.assignee_id else None),
        "created_at": _time(conversation.created_at),
        "assigned_at": _time(conversation.assigned_at),
        "first_reply_at": _time(conversation.first_reply_at),
        "last_activity_at": _time(conversation.last_activity()),
        "closed_at": _time(conversation.closed_at),
        "closed_by": conversation.closed_by or None,
    }


def conversation_visitor_payload(conversation: Conversation | None, position: int | None) -> dict[str, Any] | None:
    """A conversation as its visitor sees it: who serves them or their place in the queue (1 is next)."""
    if conversation is None:
        return None
    assignee = conversation.assignee if conversation.assignee_id else None
    return {
        "id": conversation.pk,
        "status": conversation.status,
        "assignee": {"name": assignee.display_name, "avatar": assignee.avatar_url} if assignee else None,
        "queue_position": position if conversation.status == Conversation.Status.WAITING else None,
        "closed_by": conversation.closed_by or None,
    }


def visitor_payload(visitor: Visitor) -> dict[str, Any]:
    return {
        "visitor_id": visitor.visitor_id,
        "name": visitor.name,
        "real_name": visitor.real_name,  # the agents' remark name (chat.workspace); not in the visitor's frames
        "avatar": avatar_or(visitor.avatar, ""),
        "channel": visitor.channel,
        "city": visitor.city,
        "country": visitor.country,
        "region": visitor.region,
        "isp": visitor.isp,
        "os": visitor.os,
        "browser": visitor.browser,
        "device": visitor.device,
        "device_model": visitor.device_model,
        "search_words": visitor.search_words,
        "ip": visitor.ip,
        "referrer": visitor.referrer,
        "landing_page": visitor.landing_page,
        "user_agent": visitor.user_agent,
        "extra": visitor.extra,
        "visits": visitor.visits,
        "created_at": visitor.created_at.isoformat(),
        "updated_at": visitor.updated_at.isoformat(),
    }


def frame(kind: str, data: Any) -> dict[str, Any]:
    return {"type": kind, "data": data}


def message_new_frame(payload: dict[str, Any]) -> dict[str, Any]:
    """A stored message, announced (services), offered again (frames.redelivery_event) or healed (healing)."""
    return frame("message.new", payload)


def error_frame(code: str, message: str, ref: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"code": code, "message": message}
    if ref is not None:
        data["ref"] = ref
    return frame("error", data)


def ack_frame(message: Message, *, duplicate: bool) -> dict[str, Any]:
    return frame(
        "message.ack",
        {
            "client_id": message.client_id,
            "id": message.pk,
            "created_at": message.created_at.isoformat(),
            "duplicate": duplicate,
        },
    )


def conversation_updated_frame(payload: dict[str, Any], change: str) -> dict[str, Any]:
    """To the enterprise's agents: a conversation opened, queued, was assigned, taken, transferred, closed
    or reopened (`change`); the whole conversation, so a client replaces its row."""
    return frame("conversation.updated", {"change": change, "conversation": payload})


def conversation_visitor_frame(payload: dict[str, Any] | None) -> dict[str, Any]:
    """To the visitor: their conversation now (conversation_visitor_payload), or null when there is none."""
    return frame("conversation", {"conversation": payload})


def conversation_transferred_frame(payload: dict[str, Any], by: User, note: str) -> dict[str, Any]:
    """To group_agent of the new assignee only: who handed it over, with their note (never to the visitor)."""
    return frame("conversation.transferred", {"conversation": payload, "from": agent_brief(by), "note": note})


def agent_status_payload(agent: User, *, online: bool, load: int) -> dict[str, Any]:
    """A colleague as the console shows them: `status` is what they chose, offline without a socket."""
    return {
        **(agent_brief(agent) or {}),
        "status": agent.status if online else "offline",
        "chosen": agent.status,
        "load": load,
        "limit": agent.conversation_limit(),
    }


def agent_status_frame(payload: dict[str, Any]) -> dict[str, Any]:
    return frame("agent.status", payload)


def agents_online_frame(count: int) -> dict[str, Any]:
    """To the enterprise's visitors: how many agents are there to answer."""
    return frame("agents", {"online": count})


def visitor_online_frame(summary: dict[str, Any]) -> dict[str, Any]:
    return frame("visitor.online", summary)


def visitor_offline_frame(visitor_public_id: str) -> dict[str, Any]:
    return frame("visitor.offline", {"visitor_id": visitor_public_id})


def visitor_cleared_frame(visitor_public_id: str) -> dict[str, Any]:
    """To the agents and the visitor: the visitor's history is gone; drop what you show of it."""
    return frame("visitor.cleared", {"visitor_id": visitor_public_id})


def typing_from_visitor_frame(visitor_public_id: str, draft: str) -> dict[str, Any]:
    return frame("typing", {"visitor_id": visitor_public_id, "sender": "visitor", "content": draft[:200]})


def typing_from_agent_frame(visitor_public_id: str, agent: User) -> dict[str, Any]:
    return frame("typing", {"visitor_id": visitor_public_id, "sender": "agent", "name": agent.display_name})


def read_frame(visitor_public_id: str, up_to: int, by: int) -> dict[str, Any]:
    return frame("read", {"visitor_id": visitor_public_id, "up_to": up_to, "by": by})


def visitor_read_frame(visitor_public_id: str, up_to: int) -> dict[str, Any]:
    """To the agents and the visitor's sockets: the visitor has seen the agents' messages up to `up_to`."""
    return frame("visitor.read", {"visitor_id": visitor_public_id, "up_to": up_to})


def pong_frame(now: float) -> dict[str, Any]:
    return frame("pong", {"time": now})


def history_frame(after: int, messages: list[dict[str, Any]], more: bool) -> dict[str, Any]:
    return frame("history", {"after": after, "messages": messages, "more": more})


def visitor_ready_frame(
    visitor: Visitor,
    *,
    agents_online: int,
    last_message_id: int,
    conversation: dict[str, Any] | None,
    language: str,
    welcome: str | None = None,
) -> dict[str, Any]:
    """`welcome`: the enterprise's first welcome text in the visitor's `language` (hooks.welcome_of, read in a
    sync thread); asked of the hook here when not given, which may read the database: never from the event loop."""
    enterprise = visitor.enterprise
    return frame(
        "ready",
        {
            "visitor": {
                "visitor_id": visitor.visitor_id,
                "name": visitor.name,
                "avatar": avatar_or(visitor.avatar, ""),
            },
            "agents_online": agents_online,
            "welcome": hooks.welcome_of(enterprise, language) if welcome is None else welcome,
            "offline_text": enterprise.offline_text_in(language),
            "last_message_id": last_message_id,
            "conversation": conversation,
        },
    )


def agent_ready_frame(
    agent: dict[str, Any],
    *,
    visitors: list[dict[str, Any]],
    conversations: list[dict[str, Any]],
    conversations_more: bool,
    counts: dict[str, int],
    agents: list[dict[str, Any]],
    last_message_id: int,
) -> dict[str, Any]:
    return frame(
        "ready",
        {
            "agent": agent,
            "visitors": visitors,
            "conversations": conversations,
            "conversations_more": conversations_more,
            "counts": counts,
            "agents": agents,
            "last_message_id": last_message_id,
        },
    )


def ok_frame(ref: str | None, result: dict[str, Any]) -> dict[str, Any]:
    """The answer to an action frame (status.set, conversation.*): what it did, under the frame's `ref`."""
    return frame("ok", {"ref": ref, **result})


def visitor_page_payload(page: VisitorPage) -> dict[str, Any]:
    """A page of the visitor's trail (chat.pages), as agents see it."""
    return {"id": page.pk, "url": page.url, "title": page.title, "created_at": page.created_at.isoformat()}


def visitor_page_frame(visitor_public_id: str, payload: dict[str, Any]) -> dict[str, Any]:
    """To the enterprise's agents: the visitor opened a page of the operator's site (the widget said so)."""
    return frame("visitor.page", {"visitor_id": visitor_public_id, "page": payload})


def visitor_remark_frame(visitor_public_id: str, real_name: str) -> dict[str, Any]:
    """To the enterprise's agents: an agent set (or cleared, "") the visitor's remark name."""
    return frame("visitor.remark", {"visitor_id": visitor_public_id, "real_name": real_name})


def tag_payload(tag: Tag) -> dict[str, Any]:
    return {"id": tag.pk, "name": tag.name, "colour": tag.colour}


def tag_saved_frame(payload: dict[str, Any]) -> dict[str, Any]:
    """To the enterprise's agents: a tag was created, renamed or recoloured (the whole tag)."""
    return frame("tag.saved", {"tag": payload})


def tag_deleted_frame(tag_id: int) -> dict[str, Any]:
    """To the enterprise's agents: a tag was deleted, and with it from every visitor."""
    return frame("tag.deleted", {"id": tag_id})


def visitor_tags_frame(visitor_public_id: str, tag_ids: list[int]) -> dict[str, Any]:
    """To the enterprise's agents: the visitor's tags now (ids of tag.saved tags), after an add or remove."""
    return frame("visitor.tags", {"visitor_id": visitor_public_id, "tags": tag_ids})


def agent_revoked_event(*, suspended: bool = False) -> dict[str, Any]:
    """To group_agent: the agent's password or active flag changed; to group_agents with `suspended`: their
    enterprise was suspended. Their sockets close with 4401."""
    return {"type": "agent.revoked", "suspended": True} if suspended else {"type": "agent.revoked"}


def visitor_revoked_event(identity: str | None = None, also: str = "") -> dict[str, Any]:
    """To group_visitors: the enterprise was suspended (no `identity`: every visitor socket closes with
    4401), or its identity secrets changed (the sockets whose token was issued neither under the secret with
    fingerprint `identity` nor under the previous one, `also`, still in its grace, close with 4401;
    chat.identity.visitor_token_fits)."""
    return {"type": "visitor.revoked", "identity": identity, "also": also}


def visitor_blocked_event(start: str | None = None, end: str | None = None) -> dict[str, Any]:
    """To group_visitor (a visitor blocked by id: no range) or group_visitors (an address blocked: the
    ip_key range): each visitor socket it concerns says `blacklisted` and closes with 4403."""
    return {"type": "visitor.blocked", "start": start, "end": end}


def event(frame_: dict[str, Any]) -> dict[str, Any]:
    """A channel-layer event that consumers forward verbatim as `frame_`."""
    return {"type": "forward.frame", "frame": frame_}


def redelivery_event(frame_: dict[str, Any]) -> dict[str, Any]:
    """A `message.new` again, for the sockets that never got it: a resend of a stored message may mean that
    the process which stored it died before publishing it. Consumers forward it only where it is missing."""
    return {"type": "forward.missing", "frame": frame_}
