"""Replies in /admin: the lists open, and a welcome text saved there is sanitised and reaches visitors."""

from __future__ import annotations

import pytest

from accounts.services import roles_ensure, superadmin_create
from replies.models import WelcomeText
from replies.selectors import keyword_rules, welcomes_of
from tests.conftest import AGENT_PASSWORD

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("model", ["cannedgroup", "cannedreply", "keywordrule", "welcometext"])
def test_the_superadmin_opens_every_replies_list_and_form(client, enterprise, model):
    roles_ensure()
    superadmin_create(username="root", password=AGENT_PASSWORD)
    client.login(username="root", password=AGENT_PASSWORD)
    assert client.get(f"/admin/replies/{model}/").status_code == 200
    assert client.get(f"/admin/replies/{model}/add/").status_code == 200


def test_a_welcome_text_saved_in_the_admin_is_sanitised_and_reaches_visitors(
    client, enterprise, django_capture_on_commit_callbacks
):
    roles_ensure()
    superadmin_create(username="root", password=AGENT_PASSWORD)
    client.login(username="root", password=AGENT_PASSWORD)
    assert welcomes_of(enterprise, "zh-hans") == ["Welcome to Acme!"]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/replies/welcometext/add/",
            {"enterprise": enterprise.pk, "content": "<b>Hi</b><script>alert(1)</script>", "position": 1},
        )
    assert response.status_code == 302
    last = WelcomeText.objects.filter(enterprise=enterprise).last()
    assert last is not None and last.content == "<b>Hi</b>"
    assert welcomes_of(enterprise, "zh-hans") == ["Welcome to Acme!", "<b>Hi</b>"]


def test_a_rule_saved_in_the_admin_takes_effect(client, enterprise, django_capture_on_commit_callbacks):
    roles_ensure()
    superadmin_create(username="root", password=AGENT_PASSWORD)
    client.login(username="root", password=AGENT_PASSWORD)
    assert keyword_rules.get(enterprise.pk).match("price") is None
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/admin/replies/keywordrule/add/",
            {
                "enterprise": enterprise.pk,
                "keyword": "price",
                "match": "contains",
                "reply": "p",
                "priority": 0,
                "enabled": "on",
            },
        )
    hit = keyword_rules.get(enterprise.pk).match("the price")
    assert hit is not None and hit.reply == "p"
