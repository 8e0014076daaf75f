"""The chat's database calls that many sockets make at once, grouped into one per batch (core.batching):
storing messages (one INSERT, one rate-limit round trip per batch) and looking up arriving visitor sockets
(a reconnect storm after a restart)."""

from __future__ import annotations

from typing import Any

from core.batching import Batcher

from . import selectors, services
from .models import Message, Visitor


def _messages_create(batch: list[services.NewMessage]) -> list[tuple[Message, bool] | Exception]:
    return list(services.messages_create(batch))  # looked up per call, so tests can patch it


def _visitors_for_sockets(
    batch: list[selectors.SocketLookup],
) -> list[tuple[Visitor, dict[str, Any]] | Exception]:
    return list(selectors.visitors_for_sockets(batch))


# Stores a message: (message, created), the ChatError that refused it or the database error it met
# (see services.messages_create).
message_create = Batcher[services.NewMessage, tuple[Message, bool]]("message_create", _messages_create)
# The visitor a socket's token names and its summary line (see selectors.visitors_for_sockets).
visitor_for_socket = Batcher[selectors.SocketLookup, tuple[Visitor, dict[str, Any]]](
    "visitor_for_socket", _visitors_for_sockets
)
