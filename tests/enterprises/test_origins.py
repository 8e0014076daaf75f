"""Allowed origins: one rule for the visitor socket, visitor HTTP calls and the chat page's framing."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.core.exceptions import ValidationError
from rest_framework.test import APIClient

from chat.frames import CLOSE_FORBIDDEN
from enterprises.models import Enterprise
from enterprises.origins import frame_ancestors, origin_allowed, origin_normalize
from gofly_site.asgi import application
from tests.chat.wsutil import connect_ready, recv
from tests.conftest import login_visitor

SHOP = "https://shop.example.com"


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("https://Shop.Example.COM", SHOP),
        ("https://shop.example.com:443/", SHOP),
        ("http://shop.example.com:80", "http://shop.example.com"),
        ("https://shop.example.com:8443", "https://shop.example.com:8443"),
        ("http://[::1]:8000", "http://[::1]:8000"),
        ("https://bücher.example", "https://xn--bcher-kva.example"),
        ("null", None),
        ("https://shop.example.com/path", None),
        ("https://user@shop.example.com", None),
        ("ftp://shop.example.com", None),
        ("https://shop.example.com; script-src *", None),
        ("https://shop.example.com:99999", None),
        ("", None),
    ],
)
def test_origins_are_compared_whole_and_normalised(raw, normal):
    assert origin_normalize(raw) == normal


@pytest.mark.parametrize(
    ("listed", "origin", "allowed"),
    [
        ("", "https://anyone.example", True),
        (SHOP, None, True),  # not a browser page
        (SHOP, "https://SHOP.example.com:443", True),
        (SHOP, "http://shop.example.com", False),  # another scheme is another origin
        (SHOP, "https://shop.example.com:8443", False),
        (SHOP, "https://evil.example.net", False),
        (SHOP, "null", False),
        (SHOP, "http://testserver", True),  # our own page
        ("https://a.example\nnot an origin\n" + SHOP, SHOP, True),
    ],
)
def test_the_origin_rule(listed, origin, allowed):
    enterprise = Enterprise(name="x", allowed_origins=listed)
    assert origin_allowed(enterprise, origin, "http://testserver") is allowed


def test_the_admin_refuses_lines_that_are_not_origins():
    enterprise = Enterprise(name="x", allowed_origins=f"{SHOP}\nhttps://shop.example.com/page; script-src *")
    with pytest.raises(ValidationError, match="script-src"):
        enterprise.full_clean()


def test_the_csp_frame_ancestors_name_self_and_the_listed_sites_or_anyone():
    assert frame_ancestors(Enterprise(allowed_origins="")) == "frame-ancestors *"
    listed = Enterprise(allowed_origins="https://Shop.example.com/\nhttps://b.example:8443")
    assert frame_ancestors(listed) == "frame-ancestors 'self' https://shop.example.com https://b.example:8443"


def frame_ancestors_of(response) -> str:
    """The page policy's frame-ancestors directive (the policy holds the site's script rules too), said once."""
    policy = response["Content-Security-Policy"]
    found = [part.strip() for part in policy.split(";") if part.split()[:1] == ["frame-ancestors"]]
    assert len(found) == 1, policy
    return found[0]


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/chatIndex?ent_id={ent}", "/livechat?ent_id={ent}"])
def test_the_chat_page_may_be_framed_by_the_listed_sites_only(client, enterprise, path):
    url = path.format(ent=enterprise.pk)
    response = client.get(url)
    assert frame_ancestors_of(response) == "frame-ancestors *"
    assert "X-Frame-Options" not in response
    enterprise.allowed_origins = SHOP
    enterprise.save()
    response = client.get(url)
    assert frame_ancestors_of(response) == f"frame-ancestors 'self' {SHOP}"
    assert "X-Frame-Options" not in response


# --- HTTP ------------------------------------------------------------------------------------------------


@pytest.fixture
def listed(enterprise: Enterprise) -> Enterprise:
    enterprise.allowed_origins = SHOP
    enterprise.save()
    return enterprise


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"HTTP_ORIGIN": "https://evil.example.net"}, 403),
        ({"HTTP_ORIGIN": "http://shop.example.com"}, 403),
        ({"HTTP_ORIGIN": "https://shop.example.com:443"}, 200),
        ({"HTTP_ORIGIN": "http://testserver"}, 200),  # our own /chatIndex page
        ({}, 200),
    ],
)
def test_visitor_login_follows_the_origin_rule(listed, headers, status):
    client = APIClient()
    client.credentials(**headers)
    response = client.post("/api/v1/visitor/login", {"ent_id": listed.pk}, format="json")
    assert response.status_code == status
    if status == 403:
        assert response.json()["error"]["code"] == "forbidden_origin"


@pytest.mark.django_db
@pytest.mark.parametrize(("origin", "status"), [("https://evil.example.net", 403), (SHOP, 200), (None, 200)])
def test_visitor_messages_follow_the_origin_rule(listed, origin, status):
    token = login_visitor(listed).token
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Visitor {token}", **({"HTTP_ORIGIN": origin} if origin else {}))
    response = client.get("/api/v1/visitor/messages")
    assert response.status_code == status
    response = client.post("/api/v1/visitor/messages", {"client_id": "c", "content": "hi"}, format="json")
    assert response.status_code == (403 if status == 403 else 201)


@pytest.mark.django_db(transaction=True)
def test_behind_a_tls_proxy_our_own_https_origin_is_our_own_only_when_settings_say_so(listed, settings):
    def login() -> int:
        client = APIClient()
        client.credentials(HTTP_HOST="testserver", HTTP_ORIGIN="https://testserver", HTTP_X_FORWARDED_PROTO="https")
        return client.post("/api/v1/visitor/login", {"ent_id": listed.pk}, format="json").status_code

    assert login() == 403  # anyone can send X-Forwarded-Proto
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    assert login() == 200


# --- websocket -------------------------------------------------------------------------------------------


def _socket(token: str, origin: str, *extra: tuple[bytes, bytes]) -> WebsocketCommunicator:
    headers = [(b"host", b"testserver"), (b"origin", origin.encode()), *extra]
    comm = WebsocketCommunicator(application, f"/ws/visitor?token={token}", headers=headers)
    comm.scope["client"] = ("203.0.113.7", 50000)
    return comm


@pytest.mark.django_db(transaction=True)
async def test_our_own_chat_page_opens_the_visitor_socket_when_origins_are_set(listed):
    token = (await database_sync_to_async(login_visitor)(listed)).token
    own = _socket(token, "http://testserver")
    await connect_ready(own)
    await own.disconnect()
    listed_site = _socket(token, "https://shop.example.com:443")
    await connect_ready(listed_site)
    await listed_site.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("origin", ["https://evil.example.net", "https://testserver", "null"])
async def test_a_visitor_socket_from_another_origin_is_refused_with_4403(listed, origin):
    token = (await database_sync_to_async(login_visitor)(listed)).token
    ws = _socket(token, origin)
    await ws.connect()
    assert (await recv(ws))["data"]["code"] == "forbidden_origin"
    assert (await ws.receive_output())["code"] == CLOSE_FORBIDDEN


@pytest.mark.django_db(transaction=True)
async def test_a_secure_socket_behind_a_tls_proxy_is_our_own_when_settings_say_so(listed, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    token = (await database_sync_to_async(login_visitor)(listed)).token
    ws = _socket(token, "https://testserver", (b"x-forwarded-proto", b"https"))
    await connect_ready(ws)
    await ws.disconnect()
