"""Helpers for driving the real ASGI application's websockets in tests."""

from __future__ import annotations

import json
from typing import Any

from channels.testing import WebsocketCommunicator

from gofly_site.asgi import application


def visitor_socket(token: str, *, ip: str = "203.0.113.7", origin: str | None = None) -> WebsocketCommunicator:
    headers = [(b"host", b"testserver")]
    if origin:
        headers.append((b"origin", origin.encode()))
    comm = WebsocketCommunicator(application, f"/ws/visitor?token={token}", headers=headers)
    comm.scope["client"] = (ip, 50000)
    return comm


def agent_socket(
    *, jwt: str | None = None, cookie: str | None = None, origin: str | None = None
) -> WebsocketCommunicator:
    headers = [(b"host", b"testserver")]
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    if origin:
        headers.append((b"origin", origin.encode()))
    path = f"/ws/agent?token={jwt}" if jwt else "/ws/agent"
    comm = WebsocketCommunicator(application, path, headers=headers)
    comm.scope["client"] = ("127.0.0.1", 50001)
    return comm


async def send(comm: WebsocketCommunicator, kind: str, data: Any = None) -> None:
    await comm.send_to(text_data=json.dumps({"type": kind, "data": data}))


async def recv(comm: WebsocketCommunicator, timeout: float = 3) -> dict[str, Any]:
    return await comm.receive_json_from(timeout=timeout)


async def recv_type(
    comm: WebsocketCommunicator, kind: str, timeout: float = 3, *, timeline: bool = False
) -> dict[str, Any]:
    """The data of the next frame of type `kind`, skipping presence chatter in between, and the
    conversation's timeline lines (`message.new` of kind "event") unless `timeline`."""
    while True:
        frame = await recv(comm, timeout)
        if frame["type"] == kind:
            if kind == "message.new" and frame["data"]["kind"] == "event" and not timeline:
                continue
            return frame["data"]
        if frame["type"] == "error" and kind != "error":
            raise AssertionError(f"expected {kind}, got error {frame['data']}")


async def connect_ready(comm: WebsocketCommunicator) -> dict[str, Any]:
    connected, _ = await comm.connect(timeout=5)
    assert connected
    return await recv_type(comm, "ready")
