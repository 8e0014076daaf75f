"""The landing domain: the visitor chat page moves to the enterprise's own host, and only the page does."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from accounts.permissions import ROLE_ENTERPRISE_ADMIN
from accounts.services import agent_create
from enterprises.models import Enterprise
from tests.chat.test_api import agent_client
from tests.conftest import AGENT_PASSWORD

pytestmark = pytest.mark.django_db

LANDING = "https://chat.example.com"


@pytest.fixture(autouse=True)
def _hosts(settings: Any) -> None:
    settings.ALLOWED_HOSTS = ["old.example.com", "chat.example.com", "chat.example.com:8443", "testserver"]


@pytest.fixture
def landing(enterprise: Enterprise) -> Enterprise:
    enterprise.landing_domain = LANDING
    enterprise.save()
    return enterprise


@pytest.fixture
def admin(enterprise: Enterprise, agent: Any) -> Any:
    return agent_create(
        enterprise=enterprise, username="boss", password=AGENT_PASSWORD, nickname="Boss", role=ROLE_ENTERPRISE_ADMIN
    )


@pytest.mark.parametrize("path", ["/chatIndex", "/livechat"])
def test_the_chat_page_on_another_host_moves_to_the_landing_domain_with_its_path_and_query(
    landing: Enterprise, agent: Any, path: str
) -> None:
    query = f"kefu_id={agent.username}&ent_id={landing.pk}&lang=en&extra=eyJhIjoxfQ%3D%3D"
    query += "&refer=https%3A%2F%2Fx.cn%2F%3Fa%3D1"
    if path == "/livechat":
        query = f"user_id={agent.username}&lang=en"
    response = Client().get(f"{path}?{query}", HTTP_HOST="old.example.com")
    assert response.status_code == 302
    assert response["Location"] == f"{LANDING}{path}?{query}"


def test_on_the_landing_domain_the_page_is_served_without_a_redirect(landing: Enterprise, agent: Any) -> None:
    url = f"/chatIndex?kefu_id={agent.username}&ent_id={landing.pk}"
    # The browser is on https, but a proxy that does not say so makes the request look like http: the
    # host is what counts, or the page would redirect to itself for ever.
    for secure in (True, False):
        response = Client().get(url, HTTP_HOST="chat.example.com", secure=secure)
        assert response.status_code == 200
        assert b'id="vchat"' in response.content


def test_a_different_port_is_another_host(landing: Enterprise) -> None:
    response = Client().get(f"/chatIndex?ent_id={landing.pk}", HTTP_HOST="chat.example.com:8443", secure=True)
    assert response.status_code == 302 and response["Location"] == f"{LANDING}/chatIndex?ent_id={landing.pk}"


def test_without_a_landing_domain_and_for_other_enterprises_nothing_moves(
    landing: Enterprise, other_enterprise: Enterprise
) -> None:
    assert Client().get(f"/chatIndex?ent_id={other_enterprise.pk}", HTTP_HOST="old.example.com").status_code == 200
    assert Client().get("/chatIndex?ent_id=999999", HTTP_HOST="old.example.com").status_code == 404


@pytest.mark.django_db(transaction=True)  # visitor login reads from a pool thread: committed rows only
def test_the_api_and_the_console_stay_on_any_host(landing: Enterprise, agent: Any) -> None:
    client = Client(HTTP_HOST="old.example.com")
    login = client.post("/api/v1/visitor/login", {"ent_id": str(landing.pk)}, content_type="application/json")
    assert login.status_code == 200 and login.json()["token"]
    token = client.post(
        "/api/v1/auth/token", {"username": agent.username, "password": AGENT_PASSWORD}, content_type="application/json"
    )
    assert token.status_code == 200
    assert client.get("/login").status_code == 200


def test_an_enterprise_admin_sets_and_clears_it_over_the_api_normalised(enterprise: Enterprise, admin: Any) -> None:
    boss = agent_client(admin)
    changed = boss.patch("/api/v1/agent/settings", {"landing_domain": " HTTPS://Chat.Example.COM:443/ "}, format="json")
    assert changed.status_code == 200, changed.content
    assert changed.json()["landing_domain"] == LANDING
    assert changed.json()["auto_close_minutes"] == 30  # the other settings are kept
    assert Enterprise.objects.get(pk=enterprise.pk).landing_domain == LANDING
    assert boss.get("/api/v1/agent/settings").json()["landing_domain"] == LANDING
    cleared = boss.patch("/api/v1/agent/settings", {"landing_domain": ""}, format="json")
    assert cleared.json()["landing_domain"] == ""
    assert Enterprise.objects.get(pk=enterprise.pk).landing_domain == ""


@pytest.mark.parametrize(
    "value",
    [
        "chat.example.com",
        "https://chat.example.com/chat",
        "https://chat.example.com?x=1",
        "ftp://chat.example.com",
        "https://user:pw@chat.example.com",
        "https://chat example.com",
        "javascript:alert(1)",
        "https://" + "a" * 200 + ".com",
    ],
)
def test_anything_but_an_origin_is_refused_and_nothing_is_saved(enterprise: Enterprise, admin: Any, value: str) -> None:
    refused = agent_client(admin).patch("/api/v1/agent/settings", {"landing_domain": value}, format="json")
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "invalid"
    assert "landing_domain" in refused.json()["error"]["message"]
    assert Enterprise.objects.get(pk=enterprise.pk).landing_domain == ""


def test_a_bad_value_is_refused_in_the_admin_too(enterprise: Enterprise) -> None:
    enterprise.landing_domain = "https://chat.example.com/path"
    with pytest.raises(ValidationError) as refused:
        enterprise.full_clean()
    assert "landing_domain" in refused.value.message_dict
    enterprise.landing_domain = LANDING
    enterprise.full_clean()


def test_an_agent_without_the_settings_permission_cannot_set_it(enterprise: Enterprise, agent: Any) -> None:
    refused = agent_client(agent).patch("/api/v1/agent/settings", {"landing_domain": LANDING}, format="json")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert Enterprise.objects.get(pk=enterprise.pk).landing_domain == ""
    # Reading it is every agent's (the console shows the dialog's values only to admins anyway).
    assert agent_client(agent).get("/api/v1/agent/settings").json()["landing_domain"] == ""


def test_a_superadmin_sets_it_in_the_admin(enterprise: Enterprise, admin_client: Any) -> None:
    page = admin_client.get(f"/admin/enterprises/enterprise/{enterprise.pk}/change/")
    assert page.status_code == 200 and b'name="landing_domain"' in page.content


@pytest.mark.parametrize("value", ["https://evil.example", "https://chat.example.com.evil.example", "http://127.0.0.2"])
def test_a_host_this_server_does_not_serve_is_refused_everywhere(enterprise: Enterprise, admin: Any, value: str):
    refused = agent_client(admin).patch("/api/v1/agent/settings", {"landing_domain": value}, format="json")
    assert (refused.status_code, refused.json()["error"]["code"]) == (400, "invalid")
    assert "ALLOWED_HOSTS" in refused.json()["error"]["message"]["landing_domain"][0]
    enterprise.landing_domain = value
    with pytest.raises(ValidationError) as invalid:
        enterprise.full_clean()
    assert "landing_domain" in invalid.value.message_dict
    assert Enterprise.objects.get(pk=enterprise.pk).landing_domain == ""


def test_a_wildcard_host_setting_vouches_for_no_landing_domain(enterprise: Enterprise, admin: Any, settings: Any):
    settings.ALLOWED_HOSTS = ["*"]
    refused = agent_client(admin).patch("/api/v1/agent/settings", {"landing_domain": LANDING}, format="json")
    assert refused.status_code == 400
    settings.ALLOWED_HOSTS = [".example.com", "testserver"]  # a domain and its subdomains
    changed = agent_client(admin).patch("/api/v1/agent/settings", {"landing_domain": LANDING}, format="json")
    assert changed.status_code == 200


def test_a_stored_landing_domain_on_a_host_not_served_redirects_nowhere(enterprise: Enterprise, agent: Any):
    Enterprise.objects.filter(pk=enterprise.pk).update(landing_domain="https://evil.example")  # from before the rule
    response = Client().get(f"/chatIndex?kefu_id={agent.username}&ent_id={enterprise.pk}", HTTP_HOST="old.example.com")
    assert response.status_code == 200 and "Location" not in response
