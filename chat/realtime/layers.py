"""The channel layer of a multi-process deployment: channels-redis' pub/sub layer, plus batched sends,
unsubscriptions that a closing storm cannot interrupt, and what happens when its Redis connection drops."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any

from channels.layers import BaseChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer, RedisSingleShardConnection
from redis.exceptions import RedisError

from core import health

from . import healing

logger = logging.getLogger(__name__)

_UNSUBSCRIBE_CHUNK = 500
_RETRY_RECEIVE = 0.5  # seconds between attempts to read from a shard whose connection failed

# Bumped each time a subscription connection comes back: every socket that joined under an older epoch may
# have missed pushes published while the connection was away (or before its channels were subscribed again).
_epoch = 0
# When this process first saw its subscription fail, for the current outage (wall time); None: no failure seen.
_failing_since: float | None = None
# Messages stored this long before the failure was seen are looked at too: a publish of one process can
# reach Redis after a later message of another process, and a reconnect can happen without any failure seen.
_HEAL_MARGIN = 30.0


def layer_epoch() -> int:
    return _epoch


def _subscription_failed(exc: BaseException) -> None:
    global _failing_since
    if _failing_since is None:
        _failing_since = time.time()
    health.failed(health.LAYER, exc)


def _resubscribed() -> None:
    """A shard's subscriptions are back: give the sockets that lived through the gap what they missed."""
    global _epoch, _failing_since
    _epoch += 1
    since = (_failing_since or time.time()) - _HEAL_MARGIN
    _failing_since = None
    health.recovered(health.LAYER)
    asyncio.get_running_loop().create_task(healing.heal_older_than(_epoch, since))


class _Shard(RedisSingleShardConnection):
    """channels-redis' shard connection, told when its subscription connection comes back.

    redis-py reconnects a pub/sub connection by itself and subscribes its channels again, silently: what
    was published meanwhile never arrives, and the sockets on this process would keep a gap that `sync`
    from their newest id cannot see. A connect callback on the subscription connection notices every
    reconnect (it runs after redis-py's own resubscription) and triggers `_resubscribed`.
    """

    _watched: Any = None

    async def _do_receiving(self) -> None:
        while True:
            try:
                pubsub = self._pubsub
                if pubsub is not None and pubsub.subscribed:
                    connection = pubsub.connection
                    if connection is not None and connection is not self._watched:
                        connection.register_connect_callback(self._on_reconnect)
                        self._watched = connection
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.1)
                    self._receive_message(message)
                else:
                    await asyncio.sleep(0.1)
            except (asyncio.CancelledError, GeneratorExit):
                raise
            except Exception as exc:  # upstream logs a traceback a second while Redis is away; one line will do
                _subscription_failed(exc)
                await asyncio.sleep(_RETRY_RECEIVE)

    async def _on_reconnect(self, connection: Any) -> None:
        _resubscribed()


class PubSubChannelLayer(RedisPubSubChannelLayer):
    """channels-redis' pub/sub layer with two changes, built on its shard internals (channels-redis 4.3,
    pinned; tests/chat/test_batches.py checks them on real Redis):

    * `group_send_many`: every (group, event) of a batch in one pipelined round trip per Redis shard. A
      batch of stored messages publishes each to two groups; a PUBLISH round trip each would cost the
      event loop a lock, a command and a reply per group. An event shared by groups is serialised once.
    * Leaving is never interrupted. Upstream unsubscribes a closing consumer's channel inside the
      cancelled `receive`, one round trip each behind one lock; when thousands of sockets close at once
      daphne cancels the slow ones again, which interrupts that and leaves the channel subscribed for the
      life of the process (bench finding 7). Here `receive` and `group_discard` only forget the name and
      a background task per shard unsubscribes whatever is still unused, many names per command.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._leaving: dict[Any, set[str]] = {}  # shard -> names to unsubscribe
        self._leavers: dict[Any, asyncio.Task[None]] = {}

    def _get_layer(self) -> Any:
        layer = super()._get_layer()
        for shard in layer._shards:
            if type(shard) is RedisSingleShardConnection:
                shard.__class__ = _Shard  # before its receiver starts: it has no state of its own
        return layer

    async def new_channel(self, prefix: str = "specific.") -> str:
        """Upstream raises when Redis is away, before the consumer can say why; here the channel is made
        and the consumer, finding the layer down, refuses the socket with 1013."""
        layer = self._get_layer()
        channel = f"{layer.prefix}{prefix}{uuid.uuid4().hex}"
        layer.channels[channel] = asyncio.Queue()
        try:
            await layer._get_shard(channel).subscribe(channel)
        except (RedisError, OSError) as exc:
            health.failed(health.LAYER, exc)
        return channel

    async def ensure_subscribed(self, channel: str) -> None:
        """Subscribe `channel` if `new_channel` could not; raises while Redis is still away."""
        layer = self._get_layer()
        shard = layer._get_shard(channel)
        if channel not in shard._subscribed_to:
            await shard.subscribe(channel)

    async def receive(self, channel: str) -> dict[str, Any]:
        layer = self._get_layer()
        if channel not in layer.channels:
            await layer._subscribe_to_channel(channel)
        queue = layer.channels[channel]
        try:
            message = await queue.get()
        except (TimeoutError, asyncio.CancelledError, GeneratorExit):
            # Channels cancels receive when the consumer ends: the channel is never used again.
            if layer.channels.pop(channel, None) is not None:
                self._unsubscribe_soon(layer, channel)
            raise
        return self.deserialize(message)  # type: ignore[no-any-return]

    async def group_discard(self, group: str, channel: str) -> None:
        layer = self._get_layer()
        name = layer._get_group_channel_name(group)
        members = layer.groups.get(name)
        if not members or channel not in members:
            return
        members.discard(channel)
        if not members:
            del layer.groups[name]
            self._unsubscribe_soon(layer, name)

    def _unsubscribe_soon(self, layer: Any, name: str) -> None:
        shard = layer._get_shard(name)
        self._leaving.setdefault(shard, set()).add(name)
        if shard not in self._leavers:
            self._leavers[shard] = asyncio.get_running_loop().create_task(self._unsubscribe_unused(layer, shard))

    async def _unsubscribe_unused(self, layer: Any, shard: Any) -> None:
        try:
            while names := self._leaving.pop(shard, None):
                async with shard._lock:
                    # Checked under the lock that subscribe takes: a group joined again meanwhile stays.
                    unused = [
                        name
                        for name in names
                        if name in shard._subscribed_to and name not in layer.groups and name not in layer.channels
                    ]
                    for start in range(0, len(unused), _UNSUBSCRIBE_CHUNK):
                        chunk = unused[start : start + _UNSUBSCRIBE_CHUNK]
                        shard._ensure_redis()
                        await shard._pubsub.unsubscribe(*chunk)
                        shard._subscribed_to.difference_update(chunk)
        except Exception:
            # Only costs deliveries to names nobody listens to; the next leave retries what is left.
            logger.exception("unsubscribing closed channels failed")
        finally:
            del self._leavers[shard]

    async def group_send_many(self, items: list[tuple[str, dict[str, Any]]]) -> None:
        layer = self._get_layer()
        serialised: dict[int, bytes] = {}
        by_shard: dict[Any, list[tuple[str, bytes]]] = {}
        for group, event in items:
            data = serialised.get(id(event))
            if data is None:
                data = serialised[id(event)] = self.serialize(event)
            channel = layer._get_group_channel_name(group)
            by_shard.setdefault(layer._get_shard(channel), []).append((channel, data))
        for shard, publishes in by_shard.items():
            async with shard._lock:
                shard._ensure_redis()
                pipe = shard._redis.pipeline(transaction=False)
                for channel, data in publishes:
                    pipe.publish(channel, data)
                await pipe.execute()


async def group_send_many(layer: BaseChannelLayer | Any, items: list[tuple[str, dict[str, Any]]]) -> None:
    """Send each (group, event) in order: batched where the layer can, one by one where it cannot."""
    if isinstance(layer, PubSubChannelLayer):
        await layer.group_send_many(items)
        return
    for group, event in items:
        await layer.group_send(group, event)
