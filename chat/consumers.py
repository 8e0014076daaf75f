"""The visitor and agent websockets: authenticate, validate each frame, call a service, answer."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.utils.translation import gettext as _

from accounts.permissions import permissions_forget
from accounts.selectors import agent_payload
from core import health, safety
from core.errors import ChatError
from enterprises import origins
from enterprises.languages import reader_language
from enterprises.models import Enterprise, ip_key

from . import batching, frames, hooks, selectors, services
from .access import access_visitor, access_visitor_self, blocked_error
from .frames import FrameError
from .models import Message, Visitor
from .pages import visitor_page_record
from .realtime import broadcast, heartbeat, lifecycle
from .realtime.layers import layer_epoch
from .realtime.presence import AGENT, VISITOR, Presence, get_presence

logger = logging.getLogger(__name__)

_TYPING_INTERVAL = 0.5
_AGENT_SENDS_IN_FLIGHT = 64
_DELIVERED_KEPT = 2000  # message ids a socket remembers having delivered, to skip redeliveries of them


# What the ASGI server raises on a send to a closed socket: OSError as the spec asks (uvicorn), or
# autobahn's own exception under daphne.
_SOCKET_CLOSED: tuple[type[Exception], ...] = (OSError,)
try:
    from autobahn.exception import Disconnected

    _SOCKET_CLOSED += (Disconnected,)
except ImportError:  # pragma: no cover - daphne is a requirement, but uvicorn alone would do
    pass


class _Delivered:
    """The newest message ids a socket has sent its client, at most _DELIVERED_KEPT (a dict trimmed from
    its front cost O(deleted) per lookup of its first key until its next resize)."""

    __slots__ = ("ids", "order")

    def __init__(self) -> None:
        self.ids: set[int] = set()
        self.order: deque[int] = deque()

    def add(self, message_id: int) -> None:
        if message_id not in self.ids:
            self.ids.add(message_id)
            self.order.append(message_id)
            if len(self.order) > _DELIVERED_KEPT:
                self.ids.discard(self.order.popleft())

    def __contains__(self, message_id: object) -> bool:
        return message_id in self.ids


def _dumps(frame: dict[str, Any]) -> str:
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"))


class ChatConsumer(AsyncWebsocketConsumer):
    """What both sides share: frame parsing, error answers, groups, presence and forwarding."""

    allowed_frames: set[str] = set()
    presence_kind = ""

    presence: Presence | None = None
    groups_joined: list[str]
    last_typing = 0.0
    accepted = False
    layer_epoch = 0  # the channel layer's epoch when this socket subscribed (chat/realtime/layers.py)
    conversations_epoch = 0  # the layer's epoch when this socket last read the conversations it caches
    delivered: _Delivered  # the newest message ids sent to this client

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels closes stale database connections before every event, a hop to the one thread all
        # database calls share, even for a frame that is only forwarded. database_sync_to_async does
        # that itself around each real database call, so the hop buys nothing here.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def websocket_connect(self, message: dict[str, Any]) -> None:
        broadcast.bind_event_loop()
        self.delivered = _Delivered()
        if lifecycle.stopping():
            await self.refuse("unavailable", _("The server is restarting; reconnect."), lifecycle.CLOSE_SERVICE_RESTART)
            return
        try:
            await super().websocket_connect(message)
        except Exception as exc:
            if health.outage_of(exc) is None:
                raise
            await self.refuse_unavailable(exc)

    async def accept(self, subprotocol: str | None = None, headers: Any = None) -> None:
        self.accepted = True
        await super().accept(subprotocol, headers)

    async def close_for(self, code: int, reason: str) -> None:
        """Close from the server side (lifecycle): shutdown, or pushes to this socket may have been lost."""
        try:
            await self.close(code=code, reason=reason)
        except _SOCKET_CLOSED:
            pass

    async def send_frame(self, frame: dict[str, Any]) -> None:
        try:
            await self.send(text_data=_dumps(frame))
        except _SOCKET_CLOSED:
            # The socket closed while this frame was on its way (an event dispatched just before the
            # disconnect): nothing to answer, and the client catches up with `sync` when it is back.
            logger.debug("frame dropped: socket already closed")

    async def refuse(self, code: str, message: str, close_code: int) -> None:
        """Accept only to say why, then close: browsers cannot read an HTTP rejection of an upgrade."""
        if not self.accepted:
            await self.accept()
        await self.send_frame(frames.error_frame(code, message))
        await self.close_for(close_code, "")

    async def refuse_unavailable(self, exc: Exception) -> None:
        """Redis or the database is away: a clear answer the client retries on (1013), not a 1011 and a
        traceback; one log line per outage."""
        health.failed(health.component_of(exc), exc)
        await self.refuse(
            "unavailable", _("The chat is briefly unavailable; reconnect shortly."), lifecycle.CLOSE_TRY_AGAIN_LATER
        )

    async def join(self, groups: list[str], enterprise_id: int, pk: int) -> bool:
        """Subscribe to `groups` and count this socket online; whether its owner came online with it.

        Raises what Redis raises while it is away: the socket is then refused with 1013.
        """
        self.layer_epoch = layer_epoch()  # taken first: a reconnect during the joins counts for this socket
        self.conversations_epoch = self.layer_epoch
        self.groups_joined = groups
        lifecycle.register(self)
        ensure_subscribed = getattr(self.channel_layer, "ensure_subscribed", None)
        if ensure_subscribed is not None:
            await ensure_subscribed(self.channel_name)
        for group in groups:
            await self.channel_layer.group_add(group, self.channel_name)
        presence = Presence(enterprise_id, self.presence_kind, pk, self.channel_name)
        came_online = await get_presence().join(presence)
        self.presence = presence
        heartbeat.register(presence)
        return came_online

    async def admitted(self, kind: str, pk: int) -> bool:
        """Whether this socket fits the caps on sockets per visitor, agent and address; if not, it is
        refused with 4429 and says which."""
        over = lifecycle.socket_admit(self, kind, pk, self.scope["gofly"]["ip"])
        if over is None:
            return True
        if over == "owner":
            message = _("Too many chat windows are open; close one and this one reconnects.")
        else:
            message = _("Too many connections from your network; try again later.")
        await self.refuse("too_many_sockets", message, frames.CLOSE_TOO_MANY)
        return False

    async def disconnect(self, code: int) -> None:
        lifecycle.socket_release(self)
        lifecycle.unregister(self)
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)
        if self.presence is not None:
            heartbeat.unregister(self.presence)
            try:
                if await get_presence().leave(self.presence):
                    await self.went_offline()
            except Exception as exc:  # an outage: the presence expires with its heartbeat instead
                component = health.outage_of(exc)
                if component is None:
                    raise
                health.failed(component, exc)

    async def went_offline(self) -> None:
        pass

    def conversations_stale(self) -> bool:
        """Whether the conversations this socket caches may have changed unheard of: its subscription broke
        since it cached them (chat/realtime/layers.py), so the events that would have said so may be lost."""
        return self.conversations_epoch != layer_epoch()

    async def send_history(self, after: int, query: Callable[[], tuple[list[dict[str, Any]], bool]]) -> None:
        """Answer a `sync`; if the database cannot, close with 1013: the client reconnects and syncs again,
        where an error frame would leave its gap open (docs/protocol.md section 7)."""
        try:
            messages, more = await database_sync_to_async(query)()
        except Exception as exc:
            if health.outage_of(exc) is None:
                raise
            await self.refuse_unavailable(exc)
            return
        self.note_delivered(m["id"] for m in messages)
        await self.send_frame(frames.history_frame(after, messages, more))

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            kind, data = frames.parse(text_data, self.allowed_frames)
        except FrameError as exc:
            await self.send_frame(frames.error_frame(exc.code, exc.message, exc.ref))
            return
        await self.answering(data, getattr(self, "on_" + kind.replace(".", "_"))(data))

    async def answering(self, data: dict[str, Any], handler: Awaitable[None]) -> None:
        """Run a frame's handler; whatever it refuses or fails at is answered with an `error` frame that
        carries the frame's `client_id` (messages) or `ref` (actions)."""
        ref = next((data[key] for key in ("client_id", "ref") if isinstance(data.get(key), str)), None)
        try:
            await handler
        except FrameError as exc:
            await self.send_frame(frames.error_frame(exc.code, exc.message, exc.ref or ref))
        except ChatError as exc:
            await self.send_frame(frames.error_frame(exc.code, exc.message, ref))
        except Exception as exc:
            component = health.outage_of(exc)
            if component is None:
                logger.exception("frame handler failed")
            else:  # one log line per outage, not a traceback per frame
                health.failed(component, exc)
            await self.send_frame(
                frames.error_frame("server_error", _("The server could not handle this frame; retry."), ref)
            )

    def note_delivered(self, message_ids: Iterable[int]) -> None:
        add = self.delivered.add
        for message_id in message_ids:
            add(message_id)

    async def forward_frame(self, event: dict[str, Any]) -> None:
        frame_ = event["frame"]
        if frame_["type"] == "message.new":
            self.note_delivered((frame_["data"]["id"],))
        else:
            self.conversation_news(frame_)
        await self.send_frame(frame_)

    def conversation_news(self, frame_: dict[str, Any]) -> None:
        """Keep the conversations this socket caches in step with the events that change them."""

    def heal_scope(self) -> tuple[str, int]:
        """Whose messages this socket carries, for chat/realtime/healing.py: ("visitor", pk) or ("enterprise", id)."""
        raise NotImplementedError

    async def deliver_missing(self, payloads: list[dict[str, Any]]) -> None:
        """Send the messages of `payloads` (oldest first) that this socket has not sent (chat/realtime/healing.py)."""
        for payload in payloads:
            if payload["id"] not in self.delivered:
                self.note_delivered((payload["id"],))
                await self.send_frame(frames.message_new_frame(payload))

    async def forward_missing(self, event: dict[str, Any]) -> None:
        """A stored message offered again (frames.redelivery_event): sent only if this socket never sent
        it. One forgotten since (over _DELIVERED_KEPT) is sent again; clients drop ids they hold."""
        await self.deliver_missing([event["frame"]["data"]])

    async def on_ping(self, data: dict[str, Any]) -> None:
        await self.send_frame(frames.pong_frame(time.time()))

    async def acted(self, data: dict[str, Any], result: dict[str, Any]) -> None:
        """The answer to an action frame (status, take, transfer, close, reopen)."""
        ref = data.get("ref") if isinstance(data.get("ref"), str) else None
        await self.send_frame(frames.ok_frame(ref, result))

    def typing_allowed(self) -> bool:
        """Typing is a hint: frames closer than _TYPING_INTERVAL are coalesced into the previous one."""
        now = time.monotonic()
        if now - self.last_typing < _TYPING_INTERVAL:
            return False
        self.last_typing = now
        return True


class VisitorConsumer(ChatConsumer):
    allowed_frames = frames.VISITOR_FRAMES
    presence_kind = VISITOR
    visitor: Visitor
    wrote_in: set[int]  # the conversations this socket stored the visitor's messages in

    async def connect(self) -> None:
        info = self.scope["gofly"]
        claim = info["visitor"]
        if claim is None:
            await self.refuse(
                "unauthenticated",
                _("Missing, invalid or expired visitor token; log in again."),
                frames.CLOSE_UNAUTHENTICATED,
            )
            return
        try:
            self.visitor, summary = await batching.visitor_for_socket(
                selectors.SocketLookup(claim.visitor_pk, claim.enterprise_id, info["ip"], claim.identity)
            )
        except ChatError as exc:
            close = frames.CLOSE_FORBIDDEN if exc.code == "blacklisted" else frames.CLOSE_UNAUTHENTICATED
            await self.refuse(exc.code, exc.message, close)
            return
        self.wrote_in = set()
        enterprise = self.visitor.enterprise
        if not origins.socket_origin_allowed(enterprise, self.scope):
            await self.refuse("forbidden_origin", _("This site may not open the chat."), frames.CLOSE_FORBIDDEN)
            return
        if not await self.admitted(VISITOR, self.visitor.pk):
            return
        ent = enterprise.pk
        # Subscribed before `ready`: whatever is stored after the client's sync reaches it as a push.
        came_online = await self.join(
            [frames.group_visitor(self.visitor.pk), frames.group_visitors(ent)], ent, self.visitor.pk
        )
        agents_online = len(await services.agents_serving(ent))
        conversation = await self.conversation_view()
        # The first welcome text (replies, through a hook): read in a thread, it may query the database.
        language, welcome = await database_sync_to_async(_visitor_welcome)(enterprise, info)
        await self.accept()
        await self.send_frame(
            frames.visitor_ready_frame(
                self.visitor,
                agents_online=agents_online,
                # Not summary["last_message"]: that is the agents' view, internal notes included.
                last_message_id=self.visitor.last_public_message_id,
                conversation=conversation,
                language=language,
                welcome=welcome,
            )
        )
        if came_online:
            await services.visitor_came_online(visitor=self.visitor, summary=summary)

    async def visitor_revoked(self, event: dict[str, Any]) -> None:
        # chat.tenants: the enterprise was suspended, or its identity secrets changed and this token is of
        # neither the current one nor the previous one in its grace (`also`; "" never matches a token of none).
        identity = event.get("identity")
        kept = (identity, event.get("also") or identity)
        if identity is not None and self.scope["gofly"]["visitor"].identity in kept:
            return
        await self.send_frame(
            frames.error_frame("unauthenticated", _("Missing, invalid or expired visitor token; log in again."))
        )
        await self.close_for(frames.CLOSE_UNAUTHENTICATED, "")

    async def visitor_blocked(self, event: dict[str, Any]) -> None:
        # chat.blacklist: this visitor, or an address range that may hold this socket's address.
        start, end = event.get("start"), event.get("end") or ""
        if start is not None:
            key = ip_key(self.scope["gofly"]["ip"])
            if key is None or not start <= key <= end:
                return
        error = blocked_error()
        await self.send_frame(frames.error_frame(error.code, error.message))
        await self.close_for(frames.CLOSE_FORBIDDEN, "")

    async def conversation_view(self) -> dict[str, Any] | None:
        """The visitor's open conversation as they see it; its queue position costs a query while it waits."""
        conversation = services.conversation_of(self.visitor)
        if conversation is None:
            return None
        position = await database_sync_to_async(selectors.queue_position)(conversation)
        return frames.conversation_visitor_payload(conversation, position)

    def heal_scope(self) -> tuple[str, int]:
        return ("visitor", self.visitor.pk)

    async def went_offline(self) -> None:
        await services.visitors_went_offline(gone=[(self.visitor.enterprise_id, self.visitor.visitor_id)])

    def conversation_news(self, frame_: dict[str, Any]) -> None:
        if frame_["type"] == "conversation":
            payload = frame_["data"]["conversation"]
            conversation = services.conversation_from_payload(payload, self.visitor)
            services.conversation_cache(self.visitor, conversation)
            if payload and payload["status"] == "closed" and payload["id"] in self.wrote_in:
                self.wrote_in.discard(payload["id"])
                # Its last messages may have been stored just after the close: give them a new conversation.
                asyncio.get_running_loop().create_task(self.adopt_late(payload["id"]))
        elif frame_["type"] == "visitor.cleared":
            services.conversation_cache(self.visitor, None)

    async def adopt_late(self, conversation_id: int) -> None:
        try:
            adopted = await database_sync_to_async(services.conversation_adopt_late)(
                visitor=self.visitor, conversation_id=conversation_id
            )
        except Exception as exc:
            component = health.outage_of(exc)
            if component is None:
                raise
            health.failed(component, exc)
            return
        if adopted is not None:
            services.conversation_cache(self.visitor, adopted)

    async def fresh_visitor(self) -> Visitor:
        if self.conversations_stale():
            visitor = self.visitor
            self.conversations_epoch = layer_epoch()
            self.visitor = await database_sync_to_async(access_visitor_self)(
                enterprise_id=visitor.enterprise_id, visitor_pk=visitor.pk
            )
        return self.visitor

    async def on_sync(self, data: dict[str, Any]) -> None:
        after = frames.require_int(data, "after")
        visitor_pk = self.visitor.pk
        await self.send_history(after, lambda: selectors.messages_after_for_visitor(visitor_pk=visitor_pk, after=after))

    async def on_message_send(self, data: dict[str, Any]) -> None:
        visitor = await self.fresh_visitor()
        message, created = await batching.message_create(
            services.NewMessage(
                visitor,
                Message.Sender.VISITOR,
                data.get("content"),
                data.get("client_id"),
                attachment=data.get("attachment"),
            )
        )
        if len(self.wrote_in) > 100:
            self.wrote_in.clear()
        self.wrote_in.add(message.conversation_id)
        await self.send_frame(frames.ack_frame(message, duplicate=not created))

    async def on_read(self, data: dict[str, Any]) -> None:
        up_to = frames.require_int(data, "up_to", minimum=1)
        await database_sync_to_async(services.messages_mark_read_by_visitor)(visitor=self.visitor, up_to=up_to)

    async def on_conversation_close(self, data: dict[str, Any]) -> None:
        visitor = self.visitor
        closed = await database_sync_to_async(services.conversation_close_by_visitor)(visitor=visitor)
        services.conversation_cache(visitor, None)
        await self.acted(data, {"conversation": frames.conversation_visitor_payload(closed, None)})

    async def on_typing(self, data: dict[str, Any]) -> None:
        draft = data.get("content", "")
        if not isinstance(draft, str):
            raise FrameError("bad_frame", '"content" must be a string.')
        if self.typing_allowed():
            await services.visitor_typing(visitor=self.visitor, draft=draft)

    async def on_page(self, data: dict[str, Any]) -> None:
        """The widget's host page changed (chat.pages): stored, then announced to the agents; no answer."""
        await database_sync_to_async(visitor_page_record)(
            visitor=self.visitor, url=data.get("url"), title=data.get("title")
        )


class AgentConsumer(ChatConsumer):
    allowed_frames = frames.AGENT_FRAMES
    presence_kind = AGENT

    async def connect(self) -> None:
        info = self.scope["gofly"]
        self.agent = info["agent"]
        if info.get("outage") is not None:
            await self.refuse_unavailable(info["outage"])
            return
        if self.agent is None:
            await self.refuse(
                "unauthenticated", _("Log in as an agent (session or ?token=<JWT>)."), frames.CLOSE_UNAUTHENTICATED
            )
            return
        # A session cookie is sent by the browser on any site's behalf; only our own pages may use it.
        if info["agent_via"] == "session" and not self._same_site(info["origin"]):
            await self.refuse("forbidden_origin", _("Cross-site console connection refused."), frames.CLOSE_FORBIDDEN)
            return
        if not await self.admitted(AGENT, self.agent.pk):
            return
        self.visitor_cache: dict[str, Visitor] = {}
        self.send_chains: dict[str, asyncio.Task[None]] = {}
        self.send_slots = asyncio.Semaphore(_AGENT_SENDS_IN_FLIGHT)
        ent = self.agent.enterprise_id
        came_online = await self.join([frames.group_agents(ent), frames.group_agent(self.agent.pk)], ent, self.agent.pk)
        presence = get_presence()
        online = await presence.online(ent, VISITOR)
        agents_online = await presence.online(ent, AGENT)
        await self.accept()
        await self.send_frame(await database_sync_to_async(self.ready_frame)(online, agents_online))
        if came_online:
            await self.presence_changed(online=True)

    def ready_frame(self, online: set[int], agents_online: set[int]) -> dict[str, Any]:
        """What the console starts from: the agent, online visitors, live conversations, colleagues."""
        ent = self.agent.enterprise_id
        live, more, counts = selectors.conversations_for_ready(enterprise_id=ent, agent_pk=self.agent.pk, online=online)
        return frames.agent_ready_frame(
            agent_payload(self.agent),
            visitors=selectors.visitor_summaries(enterprise_id=ent, visitor_pks=online, online=online, limit=2000),
            conversations=live,
            conversations_more=more,
            counts=counts,
            agents=selectors.agents_roster(enterprise_id=ent, online=agents_online),
            last_message_id=selectors.last_message_id(enterprise_id=ent),
        )

    async def agent_revoked(self, event: dict[str, Any]) -> None:
        # The password changed or the account was disabled (accounts.services.user_credentials_revoke), or
        # the enterprise was suspended (chat.tenants): the login this socket was opened with no longer holds.
        if event.get("suspended"):
            message = _("Your enterprise's account is suspended; contact the platform's administrator.")
        else:
            message = _("Your password was changed or your account disabled; log in again.")
        await self.send_frame(frames.error_frame("unauthenticated", message))
        await self.close(code=frames.CLOSE_UNAUTHENTICATED)

    def _same_site(self, origin: str | None) -> bool:
        if not origin:  # not a browser: nothing ambient to abuse
            return True
        return safety.console_origin_allowed(origin, self.scope)

    def heal_scope(self) -> tuple[str, int]:
        return ("enterprise", self.agent.enterprise_id)

    async def went_offline(self) -> None:
        await self.presence_changed(online=False)

    async def presence_changed(self, *, online: bool) -> None:
        """The agent's first socket opened or last one closed: colleagues, the queue and visitors hear of it."""
        try:
            await database_sync_to_async(services.agent_presence_changed)(agent=self.agent, online=online)
        except Exception as exc:  # an outage: the next `ready` and the periodic queue pass correct it
            component = health.outage_of(exc)
            if component is None:
                raise
            health.failed(component, exc)
        await services.agents_online_announce(enterprise_id=self.agent.enterprise_id)

    def conversation_news(self, frame_: dict[str, Any]) -> None:
        if frame_["type"] == "conversation.updated":
            payload = frame_["data"]["conversation"]
            visitor = self.visitor_cache.get(payload["visitor_id"])
            if visitor is not None:
                services.conversation_cache(visitor, services.conversation_from_payload(payload, visitor))
        elif frame_["type"] == "visitor.cleared":
            self.visitor_cache.pop(frame_["data"]["visitor_id"], None)

    def cached_visitor(self, visitor_id: Any) -> Visitor | None:
        if self.conversations_stale():
            self.visitor_cache.clear()
            self.conversations_epoch = layer_epoch()
        return self.visitor_cache.get(visitor_id) if isinstance(visitor_id, str) else None

    async def visitor(self, data: dict[str, Any]) -> Visitor:
        visitor_id = data.get("visitor_id")
        visitor = self.cached_visitor(visitor_id)
        if visitor is None:
            visitor = await database_sync_to_async(access_visitor)(agent=self.agent, visitor_id=visitor_id)
            self.cache_visitor(visitor)
        return visitor

    def cache_visitor(self, visitor: Visitor) -> None:
        if len(self.visitor_cache) > 5000:
            self.visitor_cache.clear()
        self.visitor_cache[visitor.visitor_id] = visitor

    async def on_sync(self, data: dict[str, Any]) -> None:
        after = frames.require_int(data, "after")
        ent = self.agent.enterprise_id
        await self.send_history(after, lambda: selectors.messages_after_for_enterprise(enterprise_id=ent, after=after))

    async def on_message_send(self, data: dict[str, Any]) -> None:
        """One agent socket carries many conversations: its sends are handled side by side, each visitor's
        in the order sent, so the socket goes on reading while a message is stored (bench finding 4)."""
        visitor_id = data.get("visitor_id")
        key = visitor_id if isinstance(visitor_id, str) else ""
        await self.send_slots.acquire()  # back-pressure: a flood waits here, in the socket's order
        task = asyncio.create_task(self._send_in_turn(self.send_chains.get(key), data))
        self.send_chains[key] = task
        task.add_done_callback(lambda done: self._send_done(key, done))

    async def _send_in_turn(self, previous: asyncio.Task[None] | None, data: dict[str, Any]) -> None:
        if previous is not None:
            await asyncio.wait([previous])  # its outcome is its own; only the order matters here
        await self.answering(data, self._send_to_visitor(data))

    async def _send_to_visitor(self, data: dict[str, Any]) -> None:
        # A visitor not yet cached is looked up with the message, in its batch: an agent who
        # answers many new visitors costs one query per batch, not one per visitor.
        visitor_id = data.get("visitor_id")
        note = data.get("note", False)
        if not isinstance(note, bool):
            raise FrameError("bad_frame", '"note" must be true or false.')
        visitor = self.cached_visitor(visitor_id)
        message, created = await batching.message_create(
            services.NewMessage(
                visitor,
                Message.Sender.NOTE if note else Message.Sender.AGENT,
                data.get("content"),
                data.get("client_id"),
                self.agent,
                visitor_id,
                attachment=data.get("attachment"),
            )
        )
        self.cache_visitor(message.visitor)
        await self.send_frame(frames.ack_frame(message, duplicate=not created))

    def _send_done(self, key: str, task: asyncio.Task[None]) -> None:
        self.send_slots.release()
        if self.send_chains.get(key) is task:
            del self.send_chains[key]

    async def disconnect(self, code: int) -> None:
        # Messages already received are stored even though their acks can no longer be sent.
        pending = list(getattr(self, "send_chains", {}).values())
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        await super().disconnect(code)

    async def on_typing(self, data: dict[str, Any]) -> None:
        visitor = await self.visitor(data)
        if self.typing_allowed():
            await services.agent_typing(agent=self.agent, visitor=visitor)

    async def on_read(self, data: dict[str, Any]) -> None:
        visitor = await self.visitor(data)
        up_to = frames.require_int(data, "up_to", minimum=1)
        await database_sync_to_async(services.messages_mark_read)(agent=self.agent, visitor=visitor, up_to=up_to)

    async def on_status_set(self, data: dict[str, Any]) -> None:
        payload = await database_sync_to_async(services.agent_status_set)(agent=self.agent, status=data.get("status"))
        await self.acted(data, {"agent": payload})

    async def conversation_action(self, data: dict[str, Any], action: Callable[..., Any], **kwargs: Any) -> None:
        def act() -> Any:
            # The socket's agent outlives changes to their role: each action asks for the permissions again
            # (two queries); messages, which need none, never do.
            permissions_forget(self.agent)
            return action(agent=self.agent, conversation_id=data.get("conversation_id"), **kwargs)

        conversation = await database_sync_to_async(act)()
        await self.acted(
            data, {"conversation": frames.conversation_payload(conversation, conversation.visitor.visitor_id)}
        )

    async def on_conversation_take(self, data: dict[str, Any]) -> None:
        await self.conversation_action(data, services.conversation_take)

    async def on_conversation_transfer(self, data: dict[str, Any]) -> None:
        await self.conversation_action(
            data, services.conversation_transfer, to_agent_id=data.get("to_agent_id"), note=data.get("note", "")
        )

    async def on_conversation_close(self, data: dict[str, Any]) -> None:
        await self.conversation_action(data, services.conversation_close)

    async def on_conversation_reopen(self, data: dict[str, Any]) -> None:
        await self.conversation_action(data, services.conversation_reopen)


def _visitor_welcome(enterprise: Enterprise, info: dict[str, Any]) -> tuple[str, str]:
    """The visitor's language (the chat link's, sent on the socket's URL, else the browser's, else the
    platform's default) and the enterprise's first welcome text in it. Sync: it may read the database."""
    language = reader_language(chosen=info.get("lang"), accept=info.get("accept_language"))
    return language, hooks.welcome_of(enterprise, language)
