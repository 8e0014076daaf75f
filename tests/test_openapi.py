"""The OpenAPI document (/api/v1/schema/) and its docs page (/api/v1/docs/): generated without a warning, in
agreement with docs/protocol.md both ways, public, with nothing loaded from another site, nothing of /admin or
/manage, and describing the answers the API really gives."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from django.core.management import call_command
from django.urls import path
from django.utils import translation
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.test import APIClient
from rest_framework.views import APIView

from accounts.permissions import ROLE_ENTERPRISE_ADMIN
from accounts.services import agent_create
from core.api.docs import DocumentOnce
from core.api.schema import SchemaGenerator
from tests.chat.test_uploads import png, upload
from tests.conftest import AGENT_PASSWORD
from tests.test_csp import assert_strict_scripts

PROTOCOL = Path(__file__).resolve().parent.parent / "docs" / "protocol.md"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_METHOD = "|".join(METHODS)
# `GET /api/v1/x`, `GET|POST /api/v1/x`, `PATCH .../<id>` (relative to the line's path before it), with a query.
_ROUTE = re.compile(rf"^((?:{_METHOD})(?:\|(?:{_METHOD}))*) +((?:/api/v1|\.\.\.)/[^\s?]*(?:\?.*)?)$")
_BARE_METHODS = re.compile(rf"^(?:{_METHOD})(?:\|(?:{_METHOD}))*$")
# What may stand between `PATCH` and `DELETE /api/v1/...` for both to name that path: ", ", "/", " or ".
_JOINER = re.compile(r"^(?:\s*,\s*|\s*/\s*|\s+or\s+)$")
_REQUEST_LINE = re.compile(rf"^({_METHOD}) +(/api/v1/\S+)", re.M)
_FENCE = re.compile(r"^```.*?^```", re.M | re.S)
_SPAN = re.compile(r"`([^`]+)`")


def _shape(route_path: str) -> str:
    """A path as both sides can compare it: no query, each parameter (`<id>`, `{tag_id}`) as `{}`."""
    route_path = route_path.split("?", 1)[0]
    return re.sub(r"<[^>]*>|\{[^}]*\}", "{}", route_path)


def _fences_blanked(text: str) -> tuple[str, list[str]]:
    """The text with its fenced blocks blanked (same lines), and those blocks."""
    blocks = [match.group(0) for match in _FENCE.finditer(text)]
    return _FENCE.sub(lambda match: "\n" * match.group(0).count("\n"), text), blocks


def protocol_routes(text: str) -> set[tuple[str, str]]:
    """Every (METHOD, path shape) under /api/v1/ that the protocol names: request lines of its fenced examples,
    and the inline spans `METHOD /api/v1/...` of its headings, tables and prose (a span may wrap a line), with
    `PATCH`, `DELETE /path` and `PATCH`/`DELETE .../<id>` (relative to the path named before it on its line).
    A relative path on a line with no path of its own is a cross-reference, named elsewhere in full."""
    inline, blocks = _fences_blanked(text)
    routes = {(method, _shape(route)) for block in blocks for method, route in _REQUEST_LINE.findall(block)}
    line_of_base: tuple[int, str] | None = None
    pending: list[str] = []
    previous_end = 0
    for span in _SPAN.finditer(inline):
        content, line = " ".join(span.group(1).split()), inline.count("\n", 0, span.start())
        if pending and not _JOINER.match(inline[previous_end : span.start()]):
            pending = []
        previous_end = span.end()
        if _BARE_METHODS.match(content):
            pending += content.split("|")
            continue
        found = _ROUTE.match(content)
        if found is None:
            pending = []
            continue
        methods, route = found.group(1).split("|") + pending, found.group(2)
        pending = []
        if route.startswith("..."):
            if line_of_base is None or line_of_base[0] != line:
                continue
            route = line_of_base[1].rstrip("/") + route[3:]
        else:
            line_of_base = (line, route.split("?", 1)[0])
        routes |= {(method, _shape(route)) for method in methods}
    return routes


def schema_operations(schema: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (method.upper(), _shape(route))
        for route, item in schema["paths"].items()
        for method in item
        if method.upper() in METHODS
    }


@pytest.fixture(scope="module")
def schema(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The document as `manage.py spectacular --validate --fail-on-warn` writes it: that command raises on
    any warning or error of the generator and on a document the OpenAPI 3 schema refuses."""
    target = tmp_path_factory.mktemp("openapi") / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    loaded: dict[str, Any] = yaml.safe_load(target.read_text())
    return loaded


@pytest.fixture(scope="module")
def documented() -> set[tuple[str, str]]:
    return protocol_routes(PROTOCOL.read_text())


# --- the document and the protocol agree ---------------------------------------------------------------------


def test_the_schema_generates_valid_without_a_warning_and_names_the_api(schema):
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "GoFly API"
    assert "docs/protocol.md" in schema["info"]["description"]
    schemes = schema["components"]["securitySchemes"]
    assert schemes["jwtAuth"] == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    assert schemes["visitorToken"]["in"] == "header" and schemes["visitorToken"]["name"] == "Authorization"
    assert len(schema_operations(schema)) > 60


def test_the_protocol_parser_reads_every_way_the_protocol_writes_a_route(documented):
    sample = """### 5.1 `POST /api/v1/auth/token`: agent login
```http
POST /api/v1/visitor/uploads                                  (Authorization: Visitor <token>)
```
| `PATCH`, `DELETE /api/v1/agent/canned/<id>` | owner |
| `GET`, `POST /api/v1/agent/keyword-rules`, `PATCH`/`DELETE .../<id>` | admins |
### 5.16 Blacklist: `GET|POST /api/v1/agent/blacklist`, `DELETE /api/v1/agent/blacklist/<kind>/<id>`
- `GET` → `{"entries": []}`; `DELETE .../visitor/<visitor_id>` → 204
answers the caller's setting. `GET
/api/v1/agent/alerts/team` lists; `GET /api/v1/agent/conversations?tab=open&before=<id>`; `GET /media/<key>`;
`GET /api/v1/agent/search?q=<text>&tag=<tag id>`"""
    assert protocol_routes(sample) == {
        ("POST", "/api/v1/auth/token"),
        ("POST", "/api/v1/visitor/uploads"),
        ("PATCH", "/api/v1/agent/canned/{}"),
        ("DELETE", "/api/v1/agent/canned/{}"),
        ("GET", "/api/v1/agent/keyword-rules"),
        ("POST", "/api/v1/agent/keyword-rules"),
        ("PATCH", "/api/v1/agent/keyword-rules/{}"),
        ("DELETE", "/api/v1/agent/keyword-rules/{}"),
        ("GET", "/api/v1/agent/blacklist"),
        ("POST", "/api/v1/agent/blacklist"),
        ("DELETE", "/api/v1/agent/blacklist/{}/{}"),
        ("GET", "/api/v1/agent/alerts/team"),
        ("GET", "/api/v1/agent/conversations"),
        ("GET", "/api/v1/agent/search"),
    }
    # The real document: its uploads (a fenced example only) and a route that wraps a line are found too.
    assert {("POST", "/api/v1/agent/visitors/{}/uploads"), ("GET", "/api/v1/agent/alerts/team")} <= documented


def test_every_route_the_protocol_names_is_in_the_schema_with_its_method(schema, documented):
    missing = documented - schema_operations(schema)
    assert not missing, f"docs/protocol.md names routes the OpenAPI document lacks: {sorted(missing)}"


def test_every_api_operation_of_the_schema_is_in_the_protocol(schema, documented):
    undocumented = {op for op in schema_operations(schema) if op[1].startswith("/api/v1/")} - documented
    assert not undocumented, f"routes served but not in docs/protocol.md: {sorted(undocumented)}"


class _Undocumented(APIView):
    permission_classes: list[Any] = []

    @extend_schema(responses={200: None})
    def get(self, request: Any) -> Response:
        return Response({})


def test_a_view_the_protocol_does_not_name_breaks_the_agreement_and_admin_routes_never_enter(documented):
    """The check above is not vacuous: a new route, undocumented, is caught; under /admin or /manage (or any
    page) a DRF view is left out of the document altogether (core.api.schema.api_routes_only)."""
    patterns = [
        path("api/v1/agent/me", _Undocumented.as_view()),
        path("api/v1/agent/secret-new-thing", _Undocumented.as_view()),
        path("admin/api/users", _Undocumented.as_view()),
        path("manage/agents/export", _Undocumented.as_view()),
        path("console/data", _Undocumented.as_view()),
    ]
    generated = SchemaGenerator(patterns=patterns).get_schema(request=None, public=True)
    assert set(generated["paths"]) == {"/api/v1/agent/me", "/api/v1/agent/secret-new-thing"}
    assert schema_operations(generated) - documented == {("GET", "/api/v1/agent/secret-new-thing")}


def test_the_schema_exposes_nothing_under_admin_or_manage(schema):
    assert all(route.startswith("/api/v1/") for route in schema["paths"])
    assert not [route for route in schema["paths"] if re.search(r"/(admin|manage)(/|$)", route)]


# --- the pages -----------------------------------------------------------------------------------------------


class _Resources(HTMLParser):
    """Every URL a page loads (script, style, image, icon), and whether it holds an inline script."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts = 0
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        for name in ("src", "href"):
            if found.get(name) and tag in {"script", "link", "img", "iframe", "source"}:
                self.urls.append(str(found[name]))
        self._in_script = tag == "script" and not found.get("src")

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_scripts += 1

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False


def _own(url: str) -> bool:
    return url.startswith("/") and not url.startswith("//")


@pytest.mark.django_db
def test_the_schema_answers_anyone_in_yaml_and_json_even_with_a_stale_token(client):
    for response in (
        client.get("/api/v1/schema/"),
        client.get("/api/v1/schema/", HTTP_AUTHORIZATION="Bearer expired.or.forged"),
    ):
        assert response.status_code == 200
        assert response["Content-Type"].startswith("application/vnd.oai.openapi")
        assert yaml.safe_load(response.content)["info"]["title"] == "GoFly API"
    as_json = client.get("/api/v1/schema/?format=json")
    assert as_json.status_code == 200 and as_json["Content-Type"].startswith("application/vnd.oai.openapi+json")
    assert "/api/v1/visitor/login" in json.loads(as_json.content)["paths"]
    assert_strict_scripts(as_json)


@pytest.mark.django_db
def test_the_schema_is_generated_once_per_language_whatever_lang_a_caller_sends(client, monkeypatch):
    """Anyone may ask for it: asking again, in any `?lang=`, costs no generation beyond one per language."""
    monkeypatch.setattr(DocumentOnce, "documents", {})
    generated: list[str] = []
    generate = SchemaGenerator.get_schema

    def counted(self: Any, request: Any = None, public: bool = False) -> Any:
        generated.append(translation.get_language())
        return generate(self, request=request, public=public)

    monkeypatch.setattr(SchemaGenerator, "get_schema", counted)
    for n in range(20):
        assert client.get(f"/api/v1/schema/?lang=x{n}").status_code == 200  # unknown: the default language
        assert client.get("/api/v1/schema/?format=json", HTTP_ACCEPT_LANGUAGE="en-GB").status_code == 200
        assert client.get("/api/v1/schema/?lang=en").status_code == 200
    assert sorted(generated) == ["en", "zh-hans"]
    assert set(DocumentOnce.documents) == {"en", "zh-hans"}


@pytest.mark.django_db
def test_the_docs_page_loads_only_our_own_files_and_passes_the_script_policy(client):
    page = client.get("/api/v1/docs/")
    assert page.status_code == 200 and page["Content-Type"].startswith("text/html")
    assert_strict_scripts(page)
    html = page.content.decode()
    resources = _Resources()
    resources.feed(html)
    assert resources.inline_scripts == 0  # script-src 'self' would block it: the start script is a file
    assert resources.urls and all(_own(url) for url in resources.urls), resources.urls
    assert not re.search(r"https?://|//cdn|fonts\.googleapis", html)
    for url in resources.urls:  # Swagger UI from our static files (drf-spectacular-sidecar), and its start
        answer = client.get(url)
        assert answer.status_code == 200, url
        if "script" in url and "static" not in url:
            start = b"".join(answer.streaming_content) if answer.streaming else answer.content
            assert answer["Content-Type"].startswith("application/javascript")
            assert answer["Cross-Origin-Resource-Policy"] == "same-origin"  # no other site may load it
            assert b'url: "/api/v1/schema/"' in start and b"validatorUrl" in start  # no swagger.io badge
    assert any("/static/drf_spectacular_sidecar/swagger-ui-dist/" in url for url in resources.urls)


# --- the answers are what the document says ------------------------------------------------------------------


def _json_schema(node: Any, components: dict[str, Any]) -> Any:
    """An OpenAPI 3.0 schema as a strict JSON Schema: references inlined, `nullable` as a null type,
    write-only fields left out of answers, and no property an object does not declare."""
    if isinstance(node, list):
        return [_json_schema(item, components) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return _json_schema(components[node["$ref"].rsplit("/", 1)[1]], components)
    out = {key: _json_schema(value, components) for key, value in node.items() if key != "nullable"}
    if "properties" in out:
        write_only = {name for name, prop in node["properties"].items() if prop.get("writeOnly")}
        out["properties"] = {name: prop for name, prop in out["properties"].items() if name not in write_only}
        out["required"] = [name for name in out.get("required", []) if name not in write_only]
        out.setdefault("additionalProperties", False)
    if node.get("nullable"):
        return {"anyOf": [out, {"type": "null"}]}
    return out


class Checker:
    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema
        self.checked: set[tuple[str, str, int]] = set()

    def __call__(self, response: Any, method: str, route: str) -> Any:
        operation = self.schema["paths"][route][method.lower()]
        status = str(response.status_code)
        assert status in operation["responses"], f"{method} {route} answered {status}, not in the document"
        described = operation["responses"][status]
        body = response.content
        if "content" not in described:
            assert not body, f"{method} {route} {status}: the document says no body"
            return None
        data = json.loads(body)
        wanted = _json_schema(
            copy.deepcopy(described["content"]["application/json"]["schema"]), self.schema["components"]["schemas"]
        )
        try:
            jsonschema.validate(data, wanted)
        except jsonschema.ValidationError as exc:
            pytest.fail(f"{method} {route} {status}: {exc.message} at {list(exc.absolute_path)}")
        self.checked.add((method, route, response.status_code))
        return data


@pytest.fixture
def check(schema: dict[str, Any]) -> Iterator[Checker]:
    yield Checker(schema)


def _agent_client(username: str) -> APIClient:
    client = APIClient()
    answer = client.post("/api/v1/auth/token", {"username": username, "password": AGENT_PASSWORD}, format="json")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {answer.json()['access']}")
    return client


@pytest.mark.django_db(transaction=True)
def test_the_visitor_api_answers_as_the_document_says(check, enterprise, agent, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    anonymous = APIClient()
    check(anonymous.get(f"/api/v1/widget?ent_id={enterprise.pk}&kefu_id=kefu2"), "GET", "/api/v1/widget")
    check(anonymous.get("/api/v1/widget"), "GET", "/api/v1/widget")  # 400 invalid, message an object
    login = check(
        anonymous.post("/api/v1/visitor/login", {"ent_id": str(enterprise.pk), "kefu_id": "kefu2"}, format="json"),
        "POST",
        "/api/v1/visitor/login",
    )
    check(anonymous.post("/api/v1/visitor/login", {"ent_id": "999999"}), "POST", "/api/v1/visitor/login")  # 404
    visitor = APIClient()
    visitor.credentials(HTTP_AUTHORIZATION=f"Visitor {login['token']}")
    messages = "/api/v1/visitor/messages"
    check(visitor.post(messages, {"client_id": "c-1", "content": "hello"}, format="json"), "POST", messages)
    check(visitor.post(messages, {"client_id": "c-1", "content": "hello"}, format="json"), "POST", messages)
    check(visitor.post(messages, {"client_id": "c-2", "content": " "}, format="json"), "POST", messages)  # empty
    check(visitor.get(f"{messages}?limit=5"), "GET", messages)
    check(visitor.get(f"{messages}?limit=0"), "GET", messages)  # 400 invalid
    sent = check(upload(visitor, "/api/v1/visitor/uploads", "a.png", png()), "POST", "/api/v1/visitor/uploads")
    assert sent["attachment"]["kind"] == "image"
    check(visitor.get("/api/v1/visitor/conversation"), "GET", "/api/v1/visitor/conversation")
    check(visitor.post("/api/v1/visitor/read", {"up_to": 1}, format="json"), "POST", "/api/v1/visitor/read")
    check(visitor.post("/api/v1/visitor/token"), "POST", "/api/v1/visitor/token")
    left = {"name": "Li", "contact": "li@example.com", "content": "call me"}
    check(visitor.post("/api/v1/visitor/leave-message", left, format="json"), "POST", "/api/v1/visitor/leave-message")
    close = "/api/v1/visitor/conversation/close"
    check(visitor.post(close), "POST", close)
    check(anonymous.get(messages), "GET", messages)  # 401
    check(anonymous.post(messages, "[", content_type="application/json"), "POST", messages)  # 401 before parsing
    check(visitor.post(messages, "[", content_type="application/json"), "POST", messages)  # 400 parse_error
    assert len(check.checked) >= 17


@pytest.mark.django_db(transaction=True)
def test_the_agent_api_answers_as_the_document_says(check, enterprise, agent, second_agent, visitor_login_result):
    agent_create(enterprise=enterprise, username="boss", password=AGENT_PASSWORD, role=ROLE_ENTERPRISE_ADMIN)
    token = check(
        APIClient().post("/api/v1/auth/token", {"username": "kefu2", "password": AGENT_PASSWORD}, format="json"),
        "POST",
        "/api/v1/auth/token",
    )
    refresh = "/api/v1/auth/token/refresh"
    check(APIClient().post(refresh, {"refresh": token["refresh"]}, format="json"), "POST", refresh)
    check(APIClient().post(refresh, {"refresh": "forged"}, format="json"), "POST", refresh)  # 401
    kefu, boss = _agent_client("kefu2"), _agent_client("boss")
    visitor_id = visitor_login_result.visitor.visitor_id
    v = f"/api/v1/agent/visitors/{visitor_id}"
    check(kefu.get("/api/v1/agent/me"), "GET", "/api/v1/agent/me")
    check(APIClient().get("/api/v1/agent/me"), "GET", "/api/v1/agent/me")  # 401
    sent = check(
        kefu.post(f"{v}/messages", {"client_id": "a-1", "content": "hi"}, format="json"),
        "POST",
        "/api/v1/agent/visitors/{visitor_id}/messages",
    )
    check(kefu.get(f"{v}/messages"), "GET", "/api/v1/agent/visitors/{visitor_id}/messages")
    check(
        kefu.post(f"{v}/read", {"up_to": sent["message"]["id"]}, format="json"),
        "POST",
        "/api/v1/agent/visitors/{visitor_id}/read",
    )
    check(kefu.post(f"{v}/read", {"up_to": "x"}, format="json"), "POST", "/api/v1/agent/visitors/{visitor_id}/read")
    check(kefu.get("/api/v1/agent/visitors"), "GET", "/api/v1/agent/visitors")
    check(kefu.get("/api/v1/agent/visitors/nobody"), "GET", "/api/v1/agent/visitors/{visitor_id}")  # 404
    tag = check(
        boss.post("/api/v1/agent/tags", {"name": "VIP", "colour": "red"}, format="json"), "POST", "/api/v1/agent/tags"
    )
    check(kefu.post("/api/v1/agent/tags", {"name": "X"}, format="json"), "POST", "/api/v1/agent/tags")  # 403
    check(
        boss.patch(f"/api/v1/agent/tags/{tag['id']}", {"colour": "blue"}, format="json"),
        "PATCH",
        "/api/v1/agent/tags/{tag_id}",
    )
    check(kefu.get("/api/v1/agent/tags"), "GET", "/api/v1/agent/tags")
    check(
        kefu.post(f"{v}/tags", {"tag_id": tag["id"]}, format="json"), "POST", "/api/v1/agent/visitors/{visitor_id}/tags"
    )
    check(kefu.patch(v, {"real_name": "Mr Wang"}, format="json"), "PATCH", "/api/v1/agent/visitors/{visitor_id}")
    check(kefu.get(v), "GET", "/api/v1/agent/visitors/{visitor_id}")
    check(kefu.get("/api/v1/agent/search?q=Wang"), "GET", "/api/v1/agent/search")
    check(kefu.delete(f"{v}/tags/{tag['id']}"), "DELETE", "/api/v1/agent/visitors/{visitor_id}/tags/{tag_id}")
    check(boss.delete(f"/api/v1/agent/tags/{tag['id']}"), "DELETE", "/api/v1/agent/tags/{tag_id}")
    page = check(kefu.get("/api/v1/agent/conversations?tab=open"), "GET", "/api/v1/agent/conversations")
    conversation = f"/api/v1/agent/conversations/{page['conversations'][0]['id']}"
    check(kefu.get(conversation), "GET", "/api/v1/agent/conversations/{conversation_id}")
    check(kefu.get(f"{conversation}/messages"), "GET", "/api/v1/agent/conversations/{conversation_id}/messages")
    for action in ("take", "close", "reopen", "close"):
        check(
            kefu.post(f"{conversation}/{action}"), "POST", f"/api/v1/agent/conversations/{{conversation_id}}/{action}"
        )
    check(
        kefu.post(f"{conversation}/transfer", {"to_agent_id": second_agent.pk}, format="json"),
        "POST",
        "/api/v1/agent/conversations/{conversation_id}/transfer",
    )
    check(kefu.get("/api/v1/agent/agents"), "GET", "/api/v1/agent/agents")
    check(kefu.post("/api/v1/agent/status", {"status": "away"}, format="json"), "POST", "/api/v1/agent/status")
    check(kefu.get("/api/v1/agent/settings"), "GET", "/api/v1/agent/settings")
    check(
        boss.patch("/api/v1/agent/settings", {"auto_close_minutes": 5}, format="json"),
        "PATCH",
        "/api/v1/agent/settings",
    )
    check(
        boss.patch(f"/api/v1/agent/agents/{agent.pk}", {"max_conversations": 3}, format="json"),
        "PATCH",
        "/api/v1/agent/agents/{agent_id}",
    )
    check(kefu.post(f"{v}/clear"), "POST", "/api/v1/agent/visitors/{visitor_id}/clear")  # 403 for an agent
    assert len(check.checked) >= 30


@pytest.mark.django_db(transaction=True)
def test_the_replies_blacklist_and_notices_apis_answer_as_the_document_says(
    check, enterprise, agent, visitor_login_result
):
    agent_create(enterprise=enterprise, username="boss", password=AGENT_PASSWORD, role=ROLE_ENTERPRISE_ADMIN)
    kefu, boss = _agent_client("kefu2"), _agent_client("boss")
    group = check(
        kefu.post("/api/v1/agent/canned-groups", {"name": "Mine"}, format="json"), "POST", "/api/v1/agent/canned-groups"
    )
    check(
        kefu.patch(f"/api/v1/agent/canned-groups/{group['id']}", {"name": "Own"}, format="json"),
        "PATCH",
        "/api/v1/agent/canned-groups/{group_id}",
    )
    reply = check(
        kefu.post(
            "/api/v1/agent/canned",
            {"title": "Hi", "content": "Hello {visitor_name}", "group_id": group["id"]},
            format="json",
        ),
        "POST",
        "/api/v1/agent/canned",
    )
    check(
        kefu.patch(f"/api/v1/agent/canned/{reply['id']}", {"title": "Hey"}, format="json"),
        "PATCH",
        "/api/v1/agent/canned/{reply_id}",
    )
    check(kefu.get("/api/v1/agent/canned?q=He"), "GET", "/api/v1/agent/canned")
    check(
        kefu.post("/api/v1/agent/canned/reorder", {"ids": [reply["id"]]}, format="json"),
        "POST",
        "/api/v1/agent/canned/reorder",
    )
    check(kefu.delete(f"/api/v1/agent/canned/{reply['id']}"), "DELETE", "/api/v1/agent/canned/{reply_id}")
    check(kefu.delete(f"/api/v1/agent/canned-groups/{group['id']}"), "DELETE", "/api/v1/agent/canned-groups/{group_id}")
    rule = check(
        boss.post("/api/v1/agent/keyword-rules", {"keyword": "price", "reply": "Cheap."}, format="json"),
        "POST",
        "/api/v1/agent/keyword-rules",
    )
    check(boss.get("/api/v1/agent/keyword-rules"), "GET", "/api/v1/agent/keyword-rules")
    check(kefu.get("/api/v1/agent/keyword-rules"), "GET", "/api/v1/agent/keyword-rules")  # 403
    check(
        boss.patch(f"/api/v1/agent/keyword-rules/{rule['id']}", {"enabled": False}, format="json"),
        "PATCH",
        "/api/v1/agent/keyword-rules/{rule_id}",
    )
    check(boss.delete(f"/api/v1/agent/keyword-rules/{rule['id']}"), "DELETE", "/api/v1/agent/keyword-rules/{rule_id}")
    welcome = check(
        boss.post("/api/v1/agent/welcome-texts", {"content": "<b>Hi</b>"}, format="json"),
        "POST",
        "/api/v1/agent/welcome-texts",
    )
    check(boss.get("/api/v1/agent/welcome-texts"), "GET", "/api/v1/agent/welcome-texts")
    check(
        boss.patch(f"/api/v1/agent/welcome-texts/{welcome['id']}", {"position": 3}, format="json"),
        "PATCH",
        "/api/v1/agent/welcome-texts/{welcome_id}",
    )
    check(
        boss.delete(f"/api/v1/agent/welcome-texts/{welcome['id']}"),
        "DELETE",
        "/api/v1/agent/welcome-texts/{welcome_id}",
    )
    visitor_id = visitor_login_result.visitor.visitor_id
    check(
        kefu.post("/api/v1/agent/blacklist", {"visitor_id": visitor_id, "until": "1d"}, format="json"),
        "POST",
        "/api/v1/agent/blacklist",
    )
    check(
        kefu.post("/api/v1/agent/blacklist", {"network": "203.0.113.0/24", "reason": "spam"}, format="json"),
        "POST",
        "/api/v1/agent/blacklist",
    )
    check(
        kefu.post("/api/v1/agent/blacklist", {"network": "0.0.0.0/0"}, format="json"), "POST", "/api/v1/agent/blacklist"
    )  # 400 too_wide
    check(kefu.get("/api/v1/agent/blacklist"), "GET", "/api/v1/agent/blacklist")
    check(
        kefu.delete(f"/api/v1/agent/blacklist/visitor/{visitor_id}"),
        "DELETE",
        "/api/v1/agent/blacklist/{kind}/{entry_id}",
    )
    check(kefu.get("/api/v1/agent/alerts"), "GET", "/api/v1/agent/alerts")
    check(
        kefu.patch("/api/v1/agent/alerts", {"email": "kefu2@example.com"}, format="json"),
        "PATCH",
        "/api/v1/agent/alerts",
    )
    check(boss.get("/api/v1/agent/alerts/team"), "GET", "/api/v1/agent/alerts/team")
    check(kefu.get("/api/v1/agent/announcements"), "GET", "/api/v1/agent/announcements")
    check(
        kefu.post("/api/v1/agent/announcements/999999/read"),
        "POST",
        "/api/v1/agent/announcements/{announcement_id}/read",
    )
    assert len(check.checked) >= 20
