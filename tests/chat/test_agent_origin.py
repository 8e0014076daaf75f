"""The agent socket takes a session cookie only from the console's own origin, compared whole."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from core.safety import Origin, origin_parse
from gofly_site.asgi import application

from .wsutil import recv

pytestmark = pytest.mark.django_db(transaction=True)


def test_origins_are_normalised_whole():
    assert origin_parse("HTTP://Example.COM:80") == Origin("http", "example.com", 80)
    assert origin_parse("https://example.com") == Origin("https", "example.com", 443)
    assert origin_parse("http://127.0.0.1:8081/") == Origin("http", "127.0.0.1", 8081)
    assert origin_parse("http://[::1]:8081") == Origin("http", "::1", 8081)
    for bad in ("null", "", "file://x", "http://a.com/path", "http://user@a.com", "http://a.com:99999", "javascript:x"):
        assert origin_parse(bad) is None, bad


async def session_cookie(client: Any, agent: Any) -> str:
    await database_sync_to_async(client.force_login)(agent)
    return f"sessionid={client.cookies['sessionid'].value}"


def console_socket(cookie: str, origin: str, *, host: str = "127.0.0.1:8081", **extra: str) -> WebsocketCommunicator:
    headers = [(b"host", host.encode()), (b"cookie", cookie.encode()), (b"origin", origin.encode())]
    headers += [(name.encode(), value.encode()) for name, value in extra.items()]
    comm = WebsocketCommunicator(application, "/ws/agent", headers=headers)
    comm.scope["client"] = ("127.0.0.1", 50001)
    return comm


async def answer(comm: WebsocketCommunicator) -> str:
    connected, _ = await comm.connect(timeout=5)
    assert connected
    frame = await recv(comm)
    await comm.disconnect()
    return frame["type"] if frame["type"] == "ready" else frame["data"]["code"]


@pytest.mark.parametrize(
    "origin",
    [
        "http://127.0.0.1:9999",  # another port of the same host
        "https://127.0.0.1",  # another scheme (and port)
        "https://127.0.0.1:8081",  # another scheme, same port
        "http://127.0.0.1",  # the default port is not 8081
        "http://localhost:8081",  # an allowed host, but not the console's origin
        "http://127.0.0.1:8081.evil.example",
        "null",
    ],
)
async def test_a_session_socket_from_any_other_origin_is_refused(client, agent, origin):
    cookie = await session_cookie(client, agent)
    assert await answer(console_socket(cookie, origin)) == "forbidden_origin"


@pytest.mark.parametrize("origin", ["http://127.0.0.1:8081", "HTTP://127.0.0.1:8081/"])
async def test_a_session_socket_from_the_consoles_own_origin_is_accepted(client, agent, origin):
    cookie = await session_cookie(client, agent)
    assert await answer(console_socket(cookie, origin)) == "ready"


async def test_the_default_port_is_the_same_origin_written_or_not(client, agent):
    cookie = await session_cookie(client, agent)
    assert await answer(console_socket(cookie, "http://chat.example.com:80", host="chat.example.com")) == "ready"
    assert await answer(console_socket(cookie, "http://chat.example.com", host="chat.example.com:80")) == "ready"


async def test_x_forwarded_proto_counts_only_behind_a_configured_proxy(client, agent, settings):
    cookie = await session_cookie(client, agent)
    https = {"x-forwarded-proto": "https"}
    host = "chat.example.com"
    assert await answer(console_socket(cookie, "https://chat.example.com", host=host, **https)) == "forbidden_origin"

    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    assert await answer(console_socket(cookie, "https://chat.example.com", host=host, **https)) == "ready"
    assert await answer(console_socket(cookie, "http://chat.example.com", host=host, **https)) == "forbidden_origin"


async def test_an_origin_in_csrf_trusted_origins_is_accepted_whole(client, agent, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://console.example.com", "https://*.example.org"]
    cookie = await session_cookie(client, agent)
    assert await answer(console_socket(cookie, "https://console.example.com")) == "ready"
    assert await answer(console_socket(cookie, "https://a.example.org")) == "ready"
    assert await answer(console_socket(cookie, "https://console.example.com:8443")) == "forbidden_origin"
    assert await answer(console_socket(cookie, "http://console.example.com")) == "forbidden_origin"
    assert await answer(console_socket(cookie, "https://example.org.evil.net")) == "forbidden_origin"
