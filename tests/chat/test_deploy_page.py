"""The deploy page (/manage/deploy/): link and snippet for a chosen agent, allowed origins, identity secret."""

from __future__ import annotations

import html

import pytest
from django.test import Client

from accounts.models import User
from accounts.permissions import ROLE_ENTERPRISE_ADMIN
from accounts.services import agent_create
from enterprises.models import AuditAction, AuditEntry, Enterprise
from tests.conftest import AGENT_PASSWORD

pytestmark = pytest.mark.django_db

PAGE = "/manage/deploy/"


@pytest.fixture
def boss(enterprise: Enterprise, agent: User) -> User:
    return agent_create(enterprise=enterprise, username="boss", password=AGENT_PASSWORD, role=ROLE_ENTERPRISE_ADMIN)


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(User.objects.get(pk=user.pk))
    return client


def test_the_page_gives_the_link_and_snippet_for_the_chosen_agent_of_this_enterprise(enterprise, agent, boss):
    client = signed_in(boss)
    assert PAGE in client.get("/manage/").content.decode()  # listed on the area's index
    page = html.unescape(client.get(PAGE).content.decode())
    assert f"http://testserver/chatIndex?ent_id={enterprise.pk}&kefu_id=boss" in page  # the first by username
    page = html.unescape(client.get(f"{PAGE}?kefu=kefu2").content.decode())
    assert f"http://testserver/chatIndex?ent_id={enterprise.pk}&kefu_id=kefu2" in page
    assert '<script src="http://testserver/static/js/gofly-front.js"></script>' in page
    assert f'"GOFLY_KEFU_ID": "kefu2", "GOFLY_ENT": "{enterprise.pk}"' in page
    # Another enterprise's agent, or anything else, is not offered: the first of this enterprise instead.
    other = agent_create(enterprise=Enterprise.objects.create(name="Globex"), username="gil", password="x")
    page = html.unescape(client.get(f"{PAGE}?kefu={other.username}").content.decode())
    assert "kefu_id=gil" not in page and "kefu_id=boss" in page
    page = client.get(f'{PAGE}?kefu="><script>x</script>').content.decode()
    assert "<script>x</script>" not in page
    # A landing domain is where the links point.
    Enterprise.objects.filter(pk=enterprise.pk).update(landing_domain="https://chat.acme.test")
    assert f"https://chat.acme.test/chatIndex?ent_id={enterprise.pk}" in html.unescape(
        client.get(PAGE).content.decode()
    )


def test_a_plain_agent_may_not_open_it(agent, boss):
    assert signed_in(agent).get(PAGE).status_code == 403
    answer = Client().get(PAGE)
    assert answer.status_code == 302 and answer["Location"].startswith("/login?next=/manage/deploy/")


def test_allowed_origins_are_saved_normalised_and_audited_and_bad_ones_refused(enterprise, boss):
    client = signed_in(boss)
    answer = client.post(PAGE, {"action": "origins", "allowed_origins": "https://Shop.Example.com:443\nhttp://b.test"})
    assert answer.status_code == 302
    assert Enterprise.objects.get(pk=enterprise.pk).allowed_origins == "https://shop.example.com\nhttp://b.test"
    assert AuditEntry.objects.filter(action=AuditAction.SETTINGS_CHANGED, actor=boss).exists()
    for bad in ("https://shop.example.com/path", "javascript:alert(1)", "x" * 6000):
        answer = client.post(PAGE, {"action": "origins", "allowed_origins": bad})
        assert answer.status_code == 400, bad
        assert Enterprise.objects.get(pk=enterprise.pk).allowed_origins == "https://shop.example.com\nhttp://b.test"


def test_an_identity_secret_is_shown_once_when_generated_then_only_masked_and_can_be_turned_off(enterprise, boss):
    client = signed_in(boss)
    assert 'id="deploy-secret-none"' in client.get(PAGE).content.decode()
    answer = client.post(PAGE, {"action": "secret"})
    secret = Enterprise.objects.get(pk=enterprise.pk).identity_secret
    assert len(secret) >= 40
    assert secret in answer.content.decode()
    again = client.get(PAGE).content.decode()
    assert secret not in again and f"{secret[:4]}" in again and 'id="deploy-secret-masked"' in again
    entry = AuditEntry.objects.get(action=AuditAction.IDENTITY_SECRET_SET)
    assert secret not in str(entry.details) and entry.details == {"required": True}
    # A second generation replaces it.
    client.post(PAGE, {"action": "secret"})
    assert Enterprise.objects.get(pk=enterprise.pk).identity_secret not in ("", secret)
    assert client.post(PAGE, {"action": "secret_off"}).status_code == 302
    assert Enterprise.objects.get(pk=enterprise.pk).identity_secret == ""
