"""The GoFly ASGI application with candidate performance fixes applied at import time, for measuring them.

Nothing here is used by the product: it lets the benchmark show what each fix proposed in
bench/README.md buys, without editing the application. Choose the fixes with GOFLY_EXP, a comma list:

  nohop     consumers skip channels' per-event `aclose_old_connections()` (a hop to the one sync thread
            for every event, even a forwarded frame that never touches the database)
  nohealth  CONN_HEALTH_CHECKS off (a MariaDB ping before the first query of every sync call)
  rl        the message rate limit in one Redis round trip on a reused client (INCR+EXPIRE pipeline),
            instead of Django's cache add()+incr(), each building a new redis.Redis client
  asyncpub  publish after commit without blocking the sync thread (schedule on the event loop)
  threads   message_create on a pool of threads (thread_sensitive=False: asyncio's default executor,
            ASGI_THREADS or min(32, cores+4) threads, one persistent DB connection each) instead of the
            one thread that every database_sync_to_async call of every consumer shares
  switch=S  sys.setswitchinterval(S) (default 0.005): how long a thread that waited on I/O waits for the GIL
  orjson    consumers serialize frames with orjson instead of json.dumps
  lightws   /ws/visitor without channels' session + auth middleware (visitors have no session; the
            stack costs a database_sync_to_async hop per connect)
  connect1  the visitor socket's two sync DB calls at connect (visitor_for_socket, visitor_connect_state)
            in one database_sync_to_async call
  closehttp close the request thread's DB connection when an HTTP request ends (under ASGI every request
            runs in a new thread, so CONN_MAX_AGE only leaks connections until the cyclic GC frees them)
  luabeat   the presence heartbeat in one Lua EVAL per 1,000 connections instead of a redis-py pipeline
            of 3 commands per connection (which blocks the event loop ~100 ms per 1,000 connections every
            HEARTBEAT seconds: the p99 spikes)
  all       nohop, nohealth, rl, asyncpub, orjson, lightws, connect1, closehttp

Run: GOFLY_EXP=all .venv/bin/daphne -b 127.0.0.1 -p 8090 --websocket_timeout -1 --ping-interval 20 \
         bench.experiments.patched_asgi:application
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gofly_site.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402

FLAGS = {f.strip() for f in os.environ.get("GOFLY_EXP", "").split(",") if f.strip()}
if "all" in FLAGS:
    FLAGS |= {"nohop", "nohealth", "rl", "asyncpub", "orjson", "lightws", "connect1", "closehttp", "luabeat"}

for flag in list(FLAGS):
    if flag.startswith("switch="):
        import sys

        sys.setswitchinterval(float(flag.split("=", 1)[1]))

if "nohealth" in FLAGS:
    settings.DATABASES["default"]["CONN_HEALTH_CHECKS"] = False

import gofly_site.asgi  # noqa: E402

application = gofly_site.asgi.application

from chat import broadcast, consumers, ratelimit, selectors, services  # noqa: E402

# Fixes the application already has (commit 981e78d took several): their flags do nothing.
ALREADY = set()
if "dispatch" in consumers.ChatConsumer.__dict__:
    ALREADY.add("nohop")
if not settings.DATABASES["default"].get("CONN_HEALTH_CHECKS"):
    ALREADY.add("nohealth")
if hasattr(ratelimit, "_hit"):
    ALREADY.add("rl")
if hasattr(broadcast, "bind_event_loop"):
    ALREADY.add("asyncpub")
if not hasattr(selectors, "visitor_connect_state"):
    ALREADY.add("connect1")
import chat.middleware  # noqa: E402

if not hasattr(chat.middleware, "GoflyAuthStack"):
    ALREADY.add("lightws")
FLAGS -= ALREADY

if "nohop" in FLAGS:
    from channels.consumer import get_handler_name

    async def dispatch(self: Any, message: dict[str, Any]) -> None:
        # database_sync_to_async already closes stale connections around every sync call, so the
        # extra hop channels makes before *every* handler only queues behind the real DB work.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    consumers.ChatConsumer.dispatch = dispatch  # type: ignore[method-assign]

if "rl" in FLAGS:
    import redis

    from chat.errors import ChatError

    _client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5) if settings.REDIS_URL else None

    def rate_limit(key: str, limit: int, window: int) -> None:
        bucket = f"{settings.GOFLY_REDIS_PREFIX}:rl:{key}:{int(time.time() // window)}"
        pipe = _client.pipeline(transaction=False)  # type: ignore[union-attr]
        pipe.incr(bucket)
        pipe.expire(bucket, window + 1, nx=True)
        hits, _ = pipe.execute()
        if hits > limit:
            raise ChatError("rate_limited", "Too many requests; slow down and retry shortly.", 429)

    if _client is not None:
        services.rate_limit = rate_limit  # type: ignore[assignment]

if "asyncpub" in FLAGS:
    from asgiref.sync import SyncToAsync
    from django.db import transaction

    from chat import frames

    def publish_on_commit(items: list[tuple[str, dict[str, Any]]]) -> None:
        events = [(group, frames.event(frame_)) for group, frame_ in items]
        loop = getattr(SyncToAsync.threadlocal, "main_event_loop", None)

        def schedule() -> None:
            if loop is None:  # not under an event loop (management command, test): publish inline
                from asgiref.sync import async_to_sync

                async_to_sync(broadcast._publish)(events)
            else:
                # Tasks start in call order and the layer's per-shard lock is FIFO, so order is kept.
                loop.call_soon_threadsafe(lambda: loop.create_task(broadcast._publish(events)))

        transaction.on_commit(schedule)

    broadcast.publish_on_commit = publish_on_commit  # type: ignore[assignment]
    services.publish_on_commit = publish_on_commit  # type: ignore[assignment]

if "threads" in FLAGS:
    from channels.db import database_sync_to_async

    async def send_message(self: Any, visitor: Any, sender: str, data: dict[str, Any], agent: Any = None) -> None:
        message, created = await database_sync_to_async(services.message_create, thread_sensitive=False)(
            visitor=visitor, sender=sender, content=data.get("content"), client_id=data.get("client_id"), agent=agent
        )
        await self.send_frame(consumers.frames.ack_frame(message, duplicate=not created))

    consumers.ChatConsumer.send_message = send_message  # type: ignore[method-assign]

if "luabeat" in FLAGS:
    from chat import presence as presence_mod

    _BEAT = """
local now = ARGV[1]; local ms = tonumber(ARGV[2]); local prefix = ARGV[3]
for i = 4, #ARGV, 4 do
  local ck = prefix .. ':c:' .. ARGV[i+1] .. ':' .. ARGV[i+2]
  redis.call('ZADD', ck, now, ARGV[i+3])
  redis.call('PEXPIRE', ck, ms)
  redis.call('ZADD', prefix .. ':o:' .. ARGV[i] .. ':' .. ARGV[i+1], now, ARGV[i+2])
end
return 1
"""

    async def beat(self: Any, entries: Any) -> None:
        # Same keys and scores as RedisPresence.beat; Redis does the 3 commands per connection itself.
        now = time.time()
        expire_ms = int(presence_mod._ttl() * 2000)
        entries = list(entries)
        redis_client = self._redis()
        for start in range(0, len(entries), 1000):
            args: list[Any] = [now, expire_ms, self._prefix]
            for entry in entries[start : start + 1000]:
                args += [entry.enterprise_id, entry.kind, entry.pk, entry.channel]
            await redis_client.eval(_BEAT, 0, *args)

    if hasattr(presence_mod, "RedisPresence"):
        presence_mod.RedisPresence.beat = beat  # type: ignore[method-assign]

if "closehttp" in FLAGS:
    from django.core.signals import request_finished
    from django.db import connections

    def _close_request_connections(**kwargs: Any) -> None:
        # request_finished is sent from the request's own (short-lived) thread: consumers never send it.
        for conn in connections.all(initialized_only=True):
            conn.close()

    request_finished.connect(_close_request_connections, weak=False)

if "orjson" in FLAGS:
    import orjson

    consumers._dumps = lambda frame: orjson.dumps(frame).decode()  # type: ignore[assignment]

if "lightws" in FLAGS:
    from channels.routing import ProtocolTypeRouter, URLRouter
    from django.urls import path

    from chat.middleware import GoflyAuthMiddleware, GoflyAuthStack

    application = ProtocolTypeRouter(
        {
            "http": gofly_site.asgi.http_app,
            "websocket": URLRouter(
                [
                    path("ws/visitor", GoflyAuthMiddleware(consumers.VisitorConsumer.as_asgi())),
                    path("ws/agent", GoflyAuthStack(consumers.AgentConsumer.as_asgi())),
                ]
            ),
        }
    )

if "connect1" in FLAGS:
    from channels.db import database_sync_to_async

    from chat import selectors
    from chat.errors import ChatError
    from chat.presence import AGENT, get_presence

    def _visitor_and_state(**kwargs: Any) -> tuple[Any, dict[str, Any]]:
        visitor = selectors.visitor_for_socket(**kwargs)
        return visitor, selectors.visitor_connect_state(visitor=visitor)

    async def visitor_connect(self: Any) -> None:
        # The same steps as VisitorConsumer.connect, with its two sync DB calls made in one hop.
        info = self.scope["gofly"]
        claim = info["visitor"]
        if claim is None:
            await self.refuse("unauthenticated", "Missing, invalid or expired visitor token; log in again.", 4401)
            return
        try:
            self.visitor, state = await database_sync_to_async(_visitor_and_state)(
                visitor_pk=claim.visitor_pk, enterprise_id=claim.enterprise_id, ip=info["ip"]
            )
        except ChatError as exc:
            await self.refuse(exc.code, exc.message, 4403 if exc.code == "blacklisted" else 4401)
            return
        enterprise = self.visitor.enterprise
        if info["origin"] and not enterprise.origin_allowed(info["origin"]):
            await self.refuse("forbidden_origin", "This site may not open the chat.", 4403)
            return
        await self.accept()
        ent = enterprise.pk
        frames = consumers.frames
        came_online = await self.join(
            [frames.group_visitor(self.visitor.pk), frames.group_visitors(ent)], ent, self.visitor.pk
        )
        agents_online = len(await get_presence().online(ent, AGENT))
        v = self.visitor
        await self.send_frame(
            frames.frame(
                "ready",
                {
                    "visitor": {"visitor_id": v.visitor_id, "name": v.name, "avatar": v.avatar},
                    "agents_online": agents_online,
                    "welcome": enterprise.welcome_text,
                    "offline_text": enterprise.offline_text,
                    "last_message_id": state["last_message_id"],
                },
            )
        )
        if came_online and state["summary"]:
            await self.channel_layer.group_send(
                frames.group_agents(ent), frames.event(frames.frame("visitor.online", state["summary"]))
            )

    consumers.VisitorConsumer.connect = visitor_connect  # type: ignore[method-assign]

print(f"patched_asgi: applied {sorted(FLAGS - {'all'})}; already in the application: {sorted(ALREADY)}", flush=True)
_ = asyncio
