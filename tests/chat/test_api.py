"""The HTTP API and pages: visitor login and history, agent endpoints, auth failures, tenant isolation."""

from __future__ import annotations

import base64
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts.models import User
from accounts.services import superadmin_create
from chat.models import Message, Visitor
from chat.services import message_create
from tests.conftest import AGENT_PASSWORD, address_block, login_visitor

pytestmark = pytest.mark.django_db
# Visitor login runs its database work on a pool thread, which sees committed data only.
login_db = pytest.mark.django_db(transaction=True)


@pytest.fixture
def api() -> APIClient:
    return APIClient()


def visitor_client(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Visitor {token}")
    return client


def agent_client(user: User) -> APIClient:
    client = APIClient()
    response = client.post("/api/v1/auth/token", {"username": user.username, "password": AGENT_PASSWORD}, format="json")
    assert response.status_code == 200
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
    return client


@login_db
def test_visitor_login_returns_a_token_and_what_the_page_shows(api, enterprise, agent):
    response = api.post(
        "/api/v1/visitor/login",
        {"ent_id": str(enterprise.pk), "kefu_id": "kefu2", "refer": "https://x.example/"},
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token"]
    assert body["enterprise"] == {
        "id": enterprise.pk,
        "name": "Acme",
        "welcome": "Welcome to Acme!",
        "welcomes": ["Welcome to Acme!"],  # replies: every welcome text, sanitised HTML
        "offline_text": "We are away.",
    }
    assert body["agent"]["name"] == "Alice"
    assert body["agents_online"] == 0
    again = api.post("/api/v1/visitor/login", {"ent_id": enterprise.pk, "token": body["token"]}, format="json").json()
    assert again["visitor"]["visitor_id"] == body["visitor"]["visitor_id"]
    assert again["created"] is False


@login_db
def test_visitor_login_accepts_the_originals_form_encoding(api, enterprise, agent):
    response = api.post("/api/v1/visitor/login", {"ent_id": enterprise.pk, "kefu_id": "kefu2"})
    assert response.status_code == 200


@login_db
def test_a_form_encoded_login_takes_the_originals_base64_extra(api, enterprise, agent):
    extra = base64.b64encode(json.dumps({"visitorName": "Ann", "plan": "gold"}).encode()).decode()
    response = api.post("/api/v1/visitor/login", {"ent_id": enterprise.pk, "extra": extra})
    assert response.status_code == 200, response.json()
    assert response.json()["visitor"]["name"] == "Ann"
    visitor = Visitor.objects.get(visitor_id=response.json()["visitor"]["visitor_id"])
    assert visitor.extra == {"visitorName": "Ann", "plan": "gold"}
    # JSON text in a form field is taken as JSON; text that is neither is refused by the service.
    as_json = api.post("/api/v1/visitor/login", {"ent_id": enterprise.pk, "extra": '{"plan": "tin"}'})
    assert as_json.status_code == 200
    bad = api.post("/api/v1/visitor/login", {"ent_id": enterprise.pk, "extra": "not base64!"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_extra"


@login_db
def test_visitor_login_records_the_ip_from_a_trusted_proxy_only(api, enterprise, agent):
    api.post(
        "/api/v1/visitor/login",
        {"ent_id": enterprise.pk},
        format="json",
        REMOTE_ADDR="127.0.0.1",
        HTTP_X_REAL_IP="198.51.100.4",
    )
    api.post(
        "/api/v1/visitor/login",
        {"ent_id": enterprise.pk},
        format="json",
        REMOTE_ADDR="192.0.2.1",
        HTTP_X_REAL_IP="198.51.100.5",
    )
    assert sorted(v.ip for v in enterprise.visitors.all()) == ["192.0.2.1", "198.51.100.4"]


@login_db
@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({}, 400, "invalid"),
        ({"ent_id": "99999"}, 404, "not_found"),
        ({"ent_id": "abc"}, 404, "not_found"),
        ({"ent_id": "{ent}", "kefu_id": "nobody"}, 404, "not_found"),
        ({"ent_id": "{ent}", "extra": "@@notbase64@@"}, 400, "bad_extra"),
        ({"ent_id": "{ent}", "visitor_id": "x" * 65}, 400, "invalid"),
    ],
)
def test_visitor_login_refuses_bad_input_clearly(api, enterprise, agent, payload, status, code):
    payload = {k: (str(enterprise.pk) if v == "{ent}" else v) for k, v in payload.items()}
    response = api.post("/api/v1/visitor/login", payload, format="json")
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


@login_db
def test_visitor_login_refuses_malformed_json(api, enterprise):
    response = api.post("/api/v1/visitor/login", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert "error" in response.json()


@login_db
def test_a_blacklisted_visitor_cannot_log_in(api, enterprise, agent):
    address_block(enterprise=enterprise, ip="127.0.0.1")
    response = api.post("/api/v1/visitor/login", {"ent_id": enterprise.pk}, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "blacklisted"


def test_visitor_history_comes_newest_first_in_pages(enterprise, agent):
    result = login_visitor(enterprise, agent)
    for i in range(5):
        message_create(visitor=result.visitor, sender="visitor", content=f"m{i}", client_id=f"c{i}")
    client = visitor_client(result.token)
    page = client.get("/api/v1/visitor/messages?limit=2").json()
    assert [m["content"] for m in page["messages"]] == ["m4", "m3"]
    assert page["more"] is True
    older = client.get(f"/api/v1/visitor/messages?limit=2&before={page['messages'][-1]['id']}").json()
    assert [m["content"] for m in older["messages"]] == ["m2", "m1"]
    last = client.get(f"/api/v1/visitor/messages?limit=2&before={older['messages'][-1]['id']}").json()
    assert [m["content"] for m in last["messages"]] == ["m0"] and last["more"] is False


def test_visitor_history_is_one_visitors_only(enterprise, agent):
    mine, theirs = login_visitor(enterprise, agent), login_visitor(enterprise, agent)
    message_create(visitor=theirs.visitor, sender="visitor", content="secret", client_id="s")
    assert visitor_client(mine.token).get("/api/v1/visitor/messages").json()["messages"] == []


@pytest.mark.parametrize("header", [None, "Visitor", "Visitor garbage", "Visitor a b", "Bearer abc"])
def test_visitor_endpoints_refuse_missing_or_bad_tokens(header, db):
    client = APIClient()
    if header:
        client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get("/api/v1/visitor/messages")
    assert response.status_code == 401
    assert response.json()["error"]["code"] in {"not_authenticated", "authentication_failed"}


def test_a_visitor_can_send_over_http_once_per_client_id(enterprise, agent):
    result = login_visitor(enterprise, agent)
    client = visitor_client(result.token)
    first = client.post("/api/v1/visitor/messages", {"client_id": "h1", "content": "via http"}, format="json")
    assert first.status_code == 201
    again = client.post("/api/v1/visitor/messages", {"client_id": "h1", "content": "via http"}, format="json")
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert again.json()["message"]["id"] == first.json()["message"]["id"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"client_id": "a", "content": "   "}, 400, "empty"),
        ({"client_id": "a", "content": "x" * 5001}, 413, "too_large"),
        ({"content": "hi"}, 400, "invalid"),
        ({"client_id": "a"}, 400, "invalid"),
    ],
)
def test_bad_messages_over_http_are_refused_and_nothing_is_stored(enterprise, agent, body, status, code):
    client = visitor_client(login_visitor(enterprise, agent).token)
    response = client.post("/api/v1/visitor/messages", body, format="json")
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert Message.objects.count() == 0


def test_an_agent_logs_in_with_jwt_and_reads_its_enterprise(enterprise, agent):
    client = agent_client(agent)
    me = client.get("/api/v1/agent/me").json()
    assert me["username"] == "kefu2" and me["enterprise_id"] == enterprise.pk


def test_a_wrong_password_gets_401(api, agent):
    response = api.post("/api/v1/auth/token", {"username": "kefu2", "password": "wrong"}, format="json")
    assert response.status_code == 401


@pytest.mark.parametrize("path", ["/api/v1/agent/me", "/api/v1/agent/visitors"])
def test_agent_endpoints_need_an_agent(api, path, db):
    assert api.get(path).status_code == 401
    api.credentials(HTTP_AUTHORIZATION="Bearer not-a-jwt")
    assert api.get(path).status_code == 401


def test_a_superadmin_without_an_enterprise_is_not_an_agent(db):
    from accounts.services import roles_ensure

    roles_ensure()
    admin = superadmin_create(username="root", password=AGENT_PASSWORD)
    client = APIClient()
    client.force_authenticate(admin)
    assert client.get("/api/v1/agent/visitors").status_code == 403


def test_an_agent_replies_over_http_and_marks_read(enterprise, agent):
    result = login_visitor(enterprise, agent)
    question, _ = message_create(visitor=result.visitor, sender="visitor", content="?", client_id="q")
    client = agent_client(agent)
    vid = result.visitor.visitor_id
    sent = client.post(f"/api/v1/agent/visitors/{vid}/messages", {"client_id": "r", "content": "!"}, format="json")
    assert sent.status_code == 201
    assert sent.json()["message"]["agent"]["name"] == "Alice"
    assert client.post(f"/api/v1/agent/visitors/{vid}/read", {"up_to": question.pk}, format="json").json() == {
        "marked": 1
    }
    history = client.get(f"/api/v1/agent/visitors/{vid}/messages").json()["messages"]
    # Answering the waiting conversation took it for Alice: a timeline line says so.
    assert [m["content"] for m in history] == ["!", "taken", "?"]
    assert history[1]["kind"] == "event" and history[1]["meta"]["agent"]["name"] == "Alice"
    assert client.get(f"/api/v1/agent/visitors/{vid}").json()["referrer"] == "https://shop.example.com/item/1"


def test_another_enterprises_visitor_is_not_found_for_every_agent_endpoint(enterprise, agent, other_agent):
    result = login_visitor(enterprise, agent)
    message_create(visitor=result.visitor, sender="visitor", content="private", client_id="p")
    client = agent_client(other_agent)
    vid = result.visitor.visitor_id
    assert client.get(f"/api/v1/agent/visitors/{vid}").status_code == 404
    assert client.get(f"/api/v1/agent/visitors/{vid}/messages").status_code == 404
    assert (
        client.post(
            f"/api/v1/agent/visitors/{vid}/messages", {"client_id": "x", "content": "y"}, format="json"
        ).status_code
        == 404
    )
    assert client.post(f"/api/v1/agent/visitors/{vid}/read", {"up_to": 1}, format="json").status_code == 404
    assert client.get("/api/v1/agent/visitors").json()["visitors"] == []
    assert client.get("/api/v1/agent/visitors/does-not-exist").json()["error"]["code"] == "not_found"
    assert Message.objects.count() == 1


def test_the_visitor_list_costs_the_same_queries_for_1_or_20_visitors(enterprise, agent):
    client = agent_client(agent)

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/api/v1/agent/visitors").status_code == 200
        return len(ctx.captured_queries)

    result = login_visitor(enterprise, agent)
    message_create(visitor=result.visitor, sender="visitor", content="q", client_id="q")
    one = count()
    for i in range(19):
        v = login_visitor(enterprise, agent).visitor
        message_create(visitor=v, sender="visitor", content=f"q{i}", client_id="q")
    assert count() == one
    visitors = client.get("/api/v1/agent/visitors").json()["visitors"]
    assert len(visitors) == 20
    assert all(v["unread"] == 1 and v["last_message"]["sender"] == "visitor" for v in visitors)


def test_the_chat_page_opens_for_a_valid_link_and_explains_a_bad_one(client, enterprise, agent):
    ok = client.get(f"/chatIndex?kefu_id=kefu2&ent_id={enterprise.pk}")
    assert ok.status_code == 200
    assert ok.context["config"]["ent_id"] == enterprise.pk
    alias = client.get("/livechat?user_id=kefu2")
    assert alias.status_code == 200 and alias.context["config"]["ent_id"] == enterprise.pk
    bad = client.get("/chatIndex?kefu_id=kefu2&ent_id=99999")
    assert bad.status_code == 404
    # A disabled agent's link no longer finds the enterprise (the login and the widget refuse them too).
    User.objects.filter(pk=agent.pk).update(is_active=False)
    assert client.get("/livechat?user_id=kefu2").status_code == 404
    assert client.get("/chatIndex?kefu_id=KEFU2").status_code == 404


def test_the_console_needs_an_agent_login(client, agent):
    response = client.get("/console")
    assert response.status_code == 302 and response["Location"].startswith("/login")
    assert client.post("/login", {"username": "kefu2", "password": AGENT_PASSWORD}).status_code == 302
    assert client.get("/console").status_code == 200
