"""GET /api/v1/widget: the launcher's state before the chat iframe exists (allowed site, agents online, the
agent, the welcome), its refusals, its CORS and cache headers and its rate limit."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.test import Client

from accounts.services import agent_create
from chat.realtime.presence import AGENT, Presence, get_presence
from replies.models import WelcomeText
from tests.conftest import AGENT_PASSWORD

# The view reads the database on a pool thread, which sees committed data only.
pytestmark = pytest.mark.django_db(transaction=True)

SHOP = "https://shop.example.com"


def get(query: str, origin: str | None = SHOP, ip: str = "198.51.100.9", method: str = "get") -> Any:
    headers = {"HTTP_ORIGIN": origin} if origin else {}
    return getattr(Client(), method)(f"/api/v1/widget{query}", REMOTE_ADDR=ip, **headers)


def online(agent) -> None:
    async_to_sync(get_presence().join)(Presence(agent.enterprise_id, AGENT, agent.pk, f"test.{agent.pk}"))


def test_the_launcher_learns_the_agent_the_welcome_and_that_nobody_is_online(enterprise, agent):
    WelcomeText.objects.filter(enterprise=enterprise).update(
        content="<p>Hello &amp; <b>welcome</b>!</p><p>Ask us<br>anything.</p>"
    )
    response = get(f"?ent_id={enterprise.pk}&kefu_id=kefu2")
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in response
    assert response["Cache-Control"] == "public, max-age=10"
    assert "Origin" in response["Vary"]
    assert response.json() == {
        "allowed": True,
        "enterprise": {"id": enterprise.pk, "name": "Acme"},
        "online": False,
        "agents_online": 0,
        "agent": {"name": "Alice", "avatar": "http://testserver/static/img/agent.svg", "online": False},
        # Rich text comes as plain text: the bubble shows text, never markup.
        "welcome": "Hello & welcome!\nAsk us\nanything.",
        "offline_text": "We are away.",
    }


def test_an_online_agent_shows_the_launcher_online_and_says_which_agent_is(enterprise, agent, second_agent):
    online(second_agent)
    body = get(f"?ent_id={enterprise.pk}&kefu_id=kefu2").json()
    assert (body["online"], body["agents_online"], body["agent"]["online"]) == (True, 1, False)
    online(agent)
    body = get(f"?ent_id={enterprise.pk}&kefu_id=kefu2").json()
    assert (body["online"], body["agents_online"], body["agent"]["online"]) == (True, 2, True)
    # Without kefu_id: the enterprise's state, no agent.
    assert get(f"?ent_id={enterprise.pk}").json()["agent"] is None


def test_a_link_naming_only_the_agent_finds_its_enterprise(enterprise, agent):
    body = get("?kefu_id=kefu2").json()
    assert body["enterprise"]["id"] == enterprise.pk and body["agent"]["name"] == "Alice"


def test_a_site_outside_the_enterprises_allowed_origins_is_told_so_and_nothing_else(enterprise, agent):
    enterprise.allowed_origins = "https://www.example.org\nhttp://127.0.0.1:9000"
    enterprise.save()
    refused = get(f"?ent_id={enterprise.pk}&kefu_id=kefu2", origin="HTTPS://Shop.Example.com:443")
    assert refused.status_code == 200
    assert refused["Access-Control-Allow-Origin"] == "*"
    assert refused.json() == {"allowed": False, "origin": SHOP}
    assert get(f"?ent_id={enterprise.pk}", origin="https://www.example.org").json()["allowed"] is True
    assert get(f"?ent_id={enterprise.pk}", origin="http://127.0.0.1:9000").json()["allowed"] is True
    assert get(f"?ent_id={enterprise.pk}", origin="null").json()["allowed"] is False
    # Our own pages always; a request without Origin (not a browser page) is not checked.
    assert get(f"?ent_id={enterprise.pk}", origin="http://testserver").json()["allowed"] is True
    assert get(f"?ent_id={enterprise.pk}", origin=None).json()["allowed"] is True


@pytest.mark.parametrize(
    "query",
    ["?ent_id=999999", "?ent_id=0", "?kefu_id=nobody", "?ent_id={ent}&kefu_id=nobody", "?ent_id={ent}&kefu_id=globex1"],
)
def test_an_unknown_enterprise_or_agent_or_another_enterprises_agent_is_a_json_404(
    enterprise, agent, other_agent, query
):
    response = get(query.format(ent=enterprise.pk))
    assert response.status_code == 404
    assert response["Access-Control-Allow-Origin"] == "*"  # the loader can read why
    assert response.json()["error"]["code"] == "not_found"


def test_a_blacklisted_address_is_a_403_and_others_are_answered(enterprise, agent):
    from tests.conftest import address_block

    address_block(enterprise=enterprise, ip="198.51.100.0/24")
    refused = get(f"?ent_id={enterprise.pk}&kefu_id=kefu2", ip="198.51.100.9")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "blacklisted"
    assert refused["Access-Control-Allow-Origin"] == "*" and refused["Cache-Control"] == "no-store"
    assert get(f"?ent_id={enterprise.pk}&kefu_id=kefu2", ip="198.51.101.9").json()["allowed"] is True


def test_a_disabled_enterprise_is_a_404(enterprise, agent):
    enterprise.is_active = False
    enterprise.save()
    assert get(f"?ent_id={enterprise.pk}&kefu_id=kefu2").json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("", "ent_id"),
        ("?ent_id=", "ent_id"),
        ("?ent_id=abc", "ent_id"),
        ("?ent_id=1%2B1", "ent_id"),
        ("?ent_id=99999999999999999999999", "ent_id"),
        ("?ent_id=1&kefu_id=" + "k" * 151, "kefu_id"),
    ],
)
def test_bad_parameters_are_a_400_naming_the_field(enterprise, query, field):
    response = get(query)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and field in error["message"]


def test_only_get_is_answered_and_a_preflight_is_allowed(enterprise):
    assert get(f"?ent_id={enterprise.pk}", method="post").status_code == 405
    preflight = get(f"?ent_id={enterprise.pk}", method="options")
    assert preflight.status_code == 204 and preflight["Access-Control-Allow-Origin"] == "*"


def test_the_endpoint_is_rate_limited_per_client_ip(settings, enterprise, agent):
    settings.GOFLY = {**settings.GOFLY, "RATE_WIDGET_PER_IP": (3, 60)}
    for _ in range(3):
        assert get(f"?ent_id={enterprise.pk}", ip="198.51.100.1").status_code == 200
    refused = get(f"?ent_id={enterprise.pk}", ip="198.51.100.1")
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert refused["Cache-Control"] == "no-store"
    assert get(f"?ent_id={enterprise.pk}", ip="198.51.100.2").status_code == 200  # another address


def test_an_inactive_agent_is_not_shown(enterprise, agent):
    agent_create(enterprise=enterprise, username="gone", password=AGENT_PASSWORD, nickname="Gone")
    from accounts.models import User

    User.objects.filter(username="gone").update(is_active=False)
    assert get(f"?ent_id={enterprise.pk}&kefu_id=gone").status_code == 404
