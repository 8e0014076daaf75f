"""Bad input and abuse: malformed, oversized, deeply nested or non-Unicode input gets a clear, documented
error, never a 500, a hang or a silent drop; in a batch, a bad item fails alone."""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

import pytest
from channels.db import database_sync_to_async
from rest_framework.test import APIClient

from chat import frames
from chat.frames import FrameError
from chat.models import Message, Visitor
from chat.services import NewMessage, message_create, messages_create
from core import jsonin
from core.errors import ChatError
from tests.conftest import AGENT_PASSWORD, login_visitor

from .wsutil import agent_socket, connect_ready, recv_type, send, visitor_socket

DEEP = "[" * 100_000
LONE_SURROGATE = '"evil \\ud800"'  # as a JSON escape: the raw text itself is valid UTF-8


def _agent_client(user: Any) -> APIClient:
    client = APIClient()
    response = client.post("/api/v1/auth/token", {"username": user.username, "password": AGENT_PASSWORD}, format="json")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
    return client


def _visitor_client(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Visitor {token}")
    return client


def _no_tracebacks(caplog: Any) -> None:
    assert not [r for r in caplog.records if r.exc_info], "a 4xx answer logged a traceback"


# --- the rule, at the parsers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ('{"type": "ping", "data": {"content": ' + LONE_SURROGATE + "}}", "bad_text"),
        ('{"type": "ping", "data": {"content": "a\\udc00b"}}', "bad_text"),
        ('{"type": "ping", "data": {"content": "nul \\u0000"}}', "bad_text"),
        ('{"type": "ping", "data": {"\\ud800": 1}}', "bad_text"),
        ('{"type": "ping", "data": {"x": ' + "[" * 21 + "]" * 21 + "}}", "too_deep"),
        ("[" * 60_000, "too_deep"),
        ('{"type": "ping", "data": {"x": NaN}}', "bad_frame"),
    ],
)
def test_the_frame_parser_refuses_bad_text_and_deep_nesting_with_its_own_code(raw, code):
    with pytest.raises(FrameError) as caught:
        frames.parse(raw, {"ping"})
    assert caught.value.code == code and caught.value.ref is None


def test_a_surrogate_pair_escape_is_an_emoji_and_passes():
    _kind, data = frames.parse('{"type": "ping", "data": {"content": "hi \\ud83d\\ude00", "x": [[1]]}}', {"ping"})
    assert data["content"] == "hi \U0001f600"


def test_integers_beyond_64_bits_are_refused_at_the_frame_parser():
    with pytest.raises(FrameError) as caught:
        frames.require_int({"up_to": 10**30}, "up_to", minimum=1)
    assert caught.value.code == "bad_frame"
    assert frames.require_int({"up_to": 2**63 - 1}, "up_to", minimum=1) == 2**63 - 1


def test_the_json_rule_walks_nothing_for_a_plain_small_frame(monkeypatch):
    walked = []
    monkeypatch.setattr(jsonin, "check", lambda *a, **kw: walked.append(a))
    jsonin.loads('{"type": "message.send", "data": {"client_id": "c-1", "content": "hello \\u00e9 😀 [{x}]"}}')
    assert walked == []


# --- websocket -------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_a_lone_surrogate_in_client_id_gets_an_error_frame_and_the_socket_stays_open(enterprise, agent):
    result = await database_sync_to_async(login_visitor)(enterprise, agent)
    ws = visitor_socket(result.token)
    await connect_ready(ws)
    await ws.send_to(text_data='{"type": "message.send", "data": {"client_id": "c\\ud800", "content": "hi"}}')
    error = await recv_type(ws, "error")
    assert error["code"] == "bad_text" and "ref" not in error
    await ws.send_to(text_data="[" * 60_000)
    assert (await recv_type(ws, "error"))["code"] == "too_deep"
    await send(ws, "ping")
    assert "time" in await recv_type(ws, "pong")
    await ws.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_read_frame_beyond_64_bits_gets_an_error_frame_not_silence(enterprise, agent):
    from .test_consumers import jwt_for

    result = await database_sync_to_async(login_visitor)(enterprise, agent)
    ws = agent_socket(jwt=jwt_for(agent))
    await connect_ready(ws)
    await send(ws, "read", {"visitor_id": result.visitor.visitor_id, "up_to": 10**30})
    error = await recv_type(ws, "error")
    assert error["code"] == "bad_frame"
    await ws.disconnect()


# --- a bad message in a batch fails alone ---------------------------------------------------------------


@pytest.mark.django_db
def test_a_message_the_database_refuses_fails_alone_and_its_batch_neighbours_are_stored(
    enterprise, agent, other_enterprise, other_agent
):
    # The parsers refuse a lone surrogate; this batch comes in behind them, as if one had been missed.
    one = login_visitor(enterprise, agent).visitor
    two = login_visitor(enterprise, agent).visitor
    three = login_visitor(other_enterprise, other_agent).visitor
    batch = [
        NewMessage(one, "visitor", "first", "a"),
        NewMessage(three, "visitor", "evil \ud800", "evil"),
        NewMessage(two, "visitor", "second", "a"),
        NewMessage(three, "agent", "third", "b", other_agent),
    ]
    results = messages_create(batch)
    bad = results[1]
    assert isinstance(bad, ChatError) and bad.code == "unstorable"
    good = [results[0], results[2], results[3]]
    assert all(isinstance(r, tuple) and r[1] for r in good)
    stored = Message.objects.exclude(kind="event").values_list("content", flat=True)
    assert sorted(stored) == ["first", "second", "third"]


# --- HTTP --------------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_deeply_nested_bodies_get_400_on_every_endpoint_and_log_no_traceback(enterprise, agent, caplog):
    caplog.set_level(logging.INFO)
    visitor = login_visitor(enterprise, agent)
    anonymous = APIClient()
    for client, path in [
        (anonymous, "/api/v1/auth/token"),
        (anonymous, "/api/v1/auth/token/refresh"),
        (anonymous, "/api/v1/visitor/login"),
        (_visitor_client(visitor.token), "/api/v1/visitor/messages"),
        (_agent_client(agent), f"/api/v1/agent/visitors/{visitor.visitor.visitor_id}/read"),
    ]:
        response = client.post(path, DEEP, content_type="application/json")
        assert response.status_code == 400, path
        assert response.json()["error"]["code"] == "too_deep", path
    _no_tracebacks(caplog)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("body", "code"),
    [
        ('{"client_id": "c-1", "content": ' + LONE_SURROGATE + "}", "bad_text"),
        ('{"client_id": "c\\udfff", "content": "hi"}', "bad_text"),
        ('{"client_id": "c-1", "content": "a\\u0000b"}', "bad_text"),
        (b'{"client_id": "c-1", "content": "\xff\xfe"}', "bad_text"),
    ],
)
def test_a_visitor_message_with_bad_text_gets_400_bad_text_over_http(enterprise, agent, body, code, caplog):
    visitor = login_visitor(enterprise, agent)
    response = _visitor_client(visitor.token).post("/api/v1/visitor/messages", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert not Message.objects.exists()
    _no_tracebacks(caplog)


@pytest.mark.django_db(transaction=True)
def test_a_surrogate_pair_is_stored_as_the_emoji_it_is(enterprise, agent):
    visitor = login_visitor(enterprise, agent)
    body = '{"client_id": "c-1", "content": "hi \\ud83d\\ude00"}'
    response = _visitor_client(visitor.token).post("/api/v1/visitor/messages", body, content_type="application/json")
    assert response.status_code == 201
    assert Message.objects.get().content == "hi \U0001f600"


def _nested(levels: int) -> Any:
    value: Any = "x"
    for _ in range(levels - 1):
        value = {"a": value}
    return value


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"extra": _nested(32)}, "too_deep"),  # the body's own limit comes first
        ({"extra": _nested(12)}, "bad_extra"),  # 11 objects: over extra's limit, within the body's
        ('{"ent_id": "{ent}", "extra": {"visitorName": ' + LONE_SURROGATE + "}}", "bad_text"),
        ({"extra": base64.b64encode(b'{"visitorName": "evil \\ud800"}').decode()}, "bad_text"),
        ({"extra": base64.b64encode(json.dumps(_nested(32)).encode()).decode()}, "bad_extra"),
        ({"extra": base64.b64encode(b'{"price": 1e999}').decode()}, "bad_extra"),
        ({"ent_id": "99999999999999999999"}, "not_found"),
        ({"visitor_name": "nul\x00"}, "bad_text"),
    ],
)
def test_visitor_login_refuses_bad_extra_and_bad_text_with_4xx(enterprise, agent, body, code, caplog):
    caplog.set_level(logging.INFO)
    if isinstance(body, str):
        data: Any = body.replace("{ent}", str(enterprise.pk))
    else:
        data = json.dumps({"ent_id": str(enterprise.pk), **body})
    response = APIClient().post("/api/v1/visitor/login", data, content_type="application/json")
    assert response.status_code in (400, 404)
    assert response.json()["error"]["code"] == code
    assert not Visitor.objects.exists()
    _no_tracebacks(caplog)


@pytest.mark.django_db(transaction=True)
def test_visitor_login_refuses_nul_in_form_data(enterprise):
    response = APIClient().post("/api/v1/visitor/login", {"ent_id": str(enterprise.pk), "visitor_name": "a\x00b"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_text"


@pytest.mark.django_db(transaction=True)
def test_a_read_beyond_64_bits_is_refused_before_anything_is_written(enterprise, agent, caplog):
    visitor = login_visitor(enterprise, agent)
    client = _agent_client(agent)
    message_create(visitor=visitor.visitor, sender="visitor", content="hi", client_id="v")
    response = client.post(
        f"/api/v1/agent/visitors/{visitor.visitor.visitor_id}/read", {"up_to": 10**30}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert not Message.objects.filter(read_at__isnull=False).exists()
    _no_tracebacks(caplog)


@pytest.mark.parametrize(
    "path",
    [
        "/static/../var/credentials.txt",
        "/static/%2e%2e/var/credentials.txt",
        "/static/..%2fvar/credentials.txt",
        "/static/%2e%2e%2fvar%2fcredentials.txt",
        "/static/..\\var\\credentials.txt",
        "/static/js/..\\..\\..\\gofly_site\\settings.py",
        "/static/js/../../gofly_site/settings.py",
    ],
)
async def test_static_paths_that_climb_out_get_404(path, settings):
    from channels.testing import HttpCommunicator

    from gofly_site.asgi import application

    comm = HttpCommunicator(application, "GET", path)
    response = await comm.get_response()
    assert response["status"] == 404


@pytest.mark.django_db
def test_only_a_row_holding_the_id_makes_a_visitor_id_taken(enterprise, monkeypatch):
    from django.db import IntegrityError

    def refuse(self: Visitor, *args: Any, **kwargs: Any) -> None:
        raise IntegrityError("CONSTRAINT `chat_visitor.extra` failed")  # what MariaDB says of JSON too deep

    monkeypatch.setattr(Visitor, "save", refuse)
    with pytest.raises(IntegrityError, match="extra"):
        login_visitor(enterprise, visitor_id="shop-user-1")


@pytest.mark.django_db(transaction=True)
def test_a_json_body_over_the_upload_limit_gets_413_without_being_read_whole(enterprise, agent, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    visitor = login_visitor(enterprise, agent)
    body = json.dumps({"client_id": "c-1", "content": "x" * 2000})
    response = _visitor_client(visitor.token).post("/api/v1/visitor/messages", body, content_type="application/json")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
    response = APIClient().post("/api/v1/visitor/login", body, content_type="application/json")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
