"""The content security policy: scripts from our own origin only, on every page; the chat page's frame-ancestors
and the uploads' own policy kept (security finding 12)."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.services import superadmin_create
from tests.chat.test_uploads import media_bytes, png, upload, visitor_client
from tests.conftest import AGENT_PASSWORD, login_visitor

pytestmark = pytest.mark.django_db

SHOP = "https://shop.example.com"


def directives(response: Any) -> dict[str, list[str]]:
    """The response's Content-Security-Policy as {directive: sources}, each directive present once."""
    found: dict[str, list[str]] = {}
    for part in response["Content-Security-Policy"].split(";"):
        name, *sources = part.split()
        assert name not in found, f"{name} twice in {response['Content-Security-Policy']!r}"
        found[name] = sources
    return found


def assert_strict_scripts(response: Any) -> None:
    policy = directives(response)
    assert policy["script-src"] == ["'self'"]  # no 'unsafe-inline', no 'unsafe-eval', no other host
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    # Nothing else is restricted: websockets, avatars on other hosts, style attributes, blob: previews.
    assert not {"default-src", "connect-src", "img-src", "style-src"} & policy.keys()


def test_the_login_page_allows_only_our_own_script_files(client):
    response = client.get("/login")
    assert response.status_code == 200
    assert_strict_scripts(response)


def test_the_console_allows_only_our_own_script_files(client, agent):
    client.login(username=agent.username, password=AGENT_PASSWORD)
    response = client.get("/console")
    assert response.status_code == 200 and b"gofly-config" in response.content
    assert_strict_scripts(response)


def test_the_visitor_chat_page_allows_only_our_own_script_files_and_keeps_its_frame_ancestors(
    client, enterprise, agent
):
    response = client.get(f"/chatIndex?kefu_id=kefu2&ent_id={enterprise.pk}")
    assert response.status_code == 200
    assert_strict_scripts(response)
    assert directives(response)["frame-ancestors"] == ["*"]


def test_the_chat_page_of_an_enterprise_with_listed_sites_may_be_framed_by_those_only(client, enterprise, agent):
    enterprise.allowed_origins = f"{SHOP}\nhttps://b.example:8443"
    enterprise.save()
    for path in ("/chatIndex?kefu_id=kefu2&ent_id={ent}", "/livechat?user_id=kefu2&ent_id={ent}"):
        response = client.get(path.format(ent=enterprise.pk))
        assert_strict_scripts(response)
        assert directives(response)["frame-ancestors"] == ["'self'", SHOP, "https://b.example:8443"]
        assert "X-Frame-Options" not in response


def test_the_unavailable_page_allows_only_our_own_script_files(client, db):
    response = client.get("/chatIndex?ent_id=999999&lang=en")
    assert response.status_code == 404 and b"not valid" in response.content
    assert_strict_scripts(response)
    assert "frame-ancestors" not in directives(response)


def test_the_admin_login_and_index_allow_only_our_own_script_files(client, db):
    response = client.get("/admin/login/")
    assert response.status_code == 200
    assert_strict_scripts(response)
    superadmin_create(username="root", password=AGENT_PASSWORD)
    client.login(username="root", password=AGENT_PASSWORD)
    response = client.get("/admin/")
    assert response.status_code == 200
    assert_strict_scripts(response)


def test_json_answers_carry_the_same_policy(client, enterprise, agent):
    """Harmless on JSON, and one rule is simpler than a list of exceptions to keep current."""
    client.login(username=agent.username, password=AGENT_PASSWORD)
    response = client.get("/api/v1/agent/me")
    assert response.status_code == 200 and response["Content-Type"].startswith("application/json")
    assert_strict_scripts(response)


@pytest.mark.django_db(transaction=True)
def test_an_upload_keeps_its_own_sandboxing_policy_unchanged(client, enterprise, agent, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    token = login_visitor(enterprise, agent).token
    answer = upload(visitor_client(token), "/api/v1/visitor/uploads", "a.png", png())
    assert answer.status_code == 201, answer.content
    served, _body = media_bytes(client, answer.json()["attachment"]["url"])
    assert served.status_code == 200
    assert served["Content-Security-Policy"] == "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"
