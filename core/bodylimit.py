"""The largest request body any HTTP endpoint reads, enforced before Django spools it to disk.

Django's ASGI handler reads a whole body into a temporary file before a view can look at it, so a view's
own limit (an enterprise's upload size, DATA_UPLOAD_MAX_MEMORY_SIZE) comes after the disk is filled. This
wrapper answers 413 as soon as a body is known or seen to be bigger than the largest upload allowed. That
is before the body is read under uvicorn, which hands the body over as it arrives; daphne reads it whole
before it calls the application, so gofly_site/daphne_body_limit.py gives daphne the same answer earlier.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings

# Room for the multipart framing and form fields around the largest file.
_SLACK = 1024 * 1024


def body_limit() -> int:
    return int(settings.GOFLY["UPLOAD_MAX_MB"]) * 1024 * 1024 + _SLACK


def too_large_messages() -> list[dict[str, Any]]:
    """The 413 answer as ASGI messages: this wrapper sends them, and the daphne patch hands them to daphne's
    own reply path, so both answers are the same bytes."""
    body = json.dumps(
        {"error": {"code": "too_large", "message": "The request body is too large."}}, separators=(",", ":")
    ).encode()
    return [
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        },
        {"type": "http.response.body", "body": body},
    ]


async def _too_large(send: Any) -> None:
    for message in too_large_messages():
        await send(message)


class BodyLimit:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit()
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                if not value.isdigit() or int(value) > limit:
                    await _too_large(send)
                    return
        received = 0
        exceeded = False
        started = False

        async def limited_receive() -> dict[str, Any]:
            nonlocal received, exceeded
            if exceeded:
                return {"type": "http.disconnect"}
            message: dict[str, Any] = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:  # a chunked body without a length: stop reading it
                    exceeded = True
                    return {"type": "http.disconnect"}
            return message

        async def tracking_send(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, limited_receive, tracking_send)
        if exceeded and not started:
            await _too_large(send)
