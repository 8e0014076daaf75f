"""Publishing frames to channel-layer groups, only after the surrounding transaction commits."""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from . import frames


async def _publish(items: list[tuple[str, dict[str, Any]]]) -> None:
    layer = get_channel_layer()
    assert layer is not None
    for group, event in items:
        await layer.group_send(group, event)


def publish_on_commit(items: list[tuple[str, dict[str, Any]]]) -> None:
    """Send each (group, frame) once the current transaction commits (at once outside a transaction).

    The channel layer is lossy by design; clients recover anything it drops with a `sync` frame.
    """
    events = [(group, frames.event(frame_)) for group, frame_ in items]
    transaction.on_commit(lambda: async_to_sync(_publish)(events))
