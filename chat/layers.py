"""The channel layer of a multi-process deployment: channels-redis' pub/sub layer, plus batched sends."""

from __future__ import annotations

from typing import Any

from channels.layers import BaseChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer


class PubSubChannelLayer(RedisPubSubChannelLayer):
    """`group_send_many`: every (group, event) of a batch in one pipelined round trip per Redis shard.

    A batch of stored messages publishes each to two groups; one PUBLISH round trip each would cost the
    event loop a lock, a command and a reply per group. An event shared by several groups is serialised
    once. Built on the layer's shard internals (channels-redis 4.3, pinned); tests/chat/test_layers.py
    checks them on real Redis.
    """

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
