"""The replies API: canned replies for every agent, rules and welcome texts for admins; refusals and bad input."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.permissions import ROLE_ENTERPRISE_ADMIN
from accounts.services import agent_create, roles_ensure
from enterprises.models import Enterprise
from replies.models import CannedReply, KeywordRule, WelcomeText
from tests.chat.test_api import agent_client
from tests.conftest import AGENT_PASSWORD, login_visitor

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def other_admin(other_enterprise: Any) -> Any:
    roles_ensure()
    return agent_create(
        enterprise=other_enterprise, username="gboss", password=AGENT_PASSWORD, role=ROLE_ENTERPRISE_ADMIN
    )


def test_an_agent_lists_the_enterprises_canned_replies_and_its_own_only(enterprise, admin, agent, second_agent):
    boss, alice, bob = agent_client(admin), agent_client(agent), agent_client(second_agent)
    group = boss.post("/api/v1/agent/canned-groups", {"scope": "enterprise", "name": "Shipping"}, format="json")
    assert group.status_code == 201, group.json()
    made = boss.post(
        "/api/v1/agent/canned",
        {"scope": "enterprise", "title": "Ship", "content": "We ship in 2 days", "group_id": group.json()["id"]},
        format="json",
    )
    assert made.status_code == 201 and made.json()["scope"] == "enterprise"
    mine = alice.post("/api/v1/agent/canned", {"title": "Hi", "content": "Hello {visitor_name}"}, format="json")
    assert mine.status_code == 201 and mine.json()["scope"] == "personal"
    with CaptureQueriesContext(connection) as queries:
        listed = alice.get("/api/v1/agent/canned").json()
    assert [r["title"] for r in listed["replies"]] == ["Ship", "Hi"]
    assert [g["name"] for g in listed["groups"]] == ["Shipping"]
    assert len([q for q in queries.captured_queries if "replies_" in q["sql"]]) == 2
    assert [r["title"] for r in bob.get("/api/v1/agent/canned").json()["replies"]] == ["Ship"]
    assert [r["title"] for r in alice.get("/api/v1/agent/canned?q=2 days").json()["replies"]] == ["Ship"]


def test_an_agent_may_not_touch_enterprise_or_colleagues_replies(enterprise, admin, agent, second_agent):
    boss, alice, bob = agent_client(admin), agent_client(agent), agent_client(second_agent)
    shared = boss.post("/api/v1/agent/canned", {"scope": "enterprise", "title": "S", "content": "s"}, format="json")
    own = alice.post("/api/v1/agent/canned", {"title": "A", "content": "a"}, format="json").json()
    assert (
        alice.post(
            "/api/v1/agent/canned", {"scope": "enterprise", "title": "x", "content": "x"}, format="json"
        ).status_code
        == 403
    )
    assert alice.patch(f"/api/v1/agent/canned/{shared.json()['id']}", {"title": "y"}, format="json").status_code == 403
    assert alice.delete(f"/api/v1/agent/canned/{shared.json()['id']}").status_code == 403
    assert bob.patch(f"/api/v1/agent/canned/{own['id']}", {"title": "y"}, format="json").status_code == 404
    assert bob.delete(f"/api/v1/agent/canned/{own['id']}").status_code == 404
    assert alice.patch(f"/api/v1/agent/canned/{own['id']}", {"title": "A2"}, format="json").json()["title"] == "A2"
    assert alice.delete(f"/api/v1/agent/canned/{own['id']}").status_code == 204
    assert CannedReply.objects.count() == 1


def test_canned_replies_are_reordered(enterprise, agent):
    alice = agent_client(agent)
    ids = [alice.post("/api/v1/agent/canned", {"title": t, "content": t}, format="json").json()["id"] for t in "abc"]
    assert alice.post("/api/v1/agent/canned/reorder", {"ids": ids[::-1]}, format="json").status_code == 204
    assert [r["title"] for r in alice.get("/api/v1/agent/canned").json()["replies"]] == ["c", "b", "a"]
    assert alice.post("/api/v1/agent/canned/reorder", {"ids": "nope"}, format="json").status_code == 400


def test_another_enterprises_rows_answer_not_found(enterprise, admin, other_admin):
    boss, other = agent_client(admin), agent_client(other_admin)
    reply = boss.post("/api/v1/agent/canned", {"scope": "enterprise", "title": "S", "content": "s"}, format="json")
    group = boss.post("/api/v1/agent/canned-groups", {"scope": "enterprise", "name": "G"}, format="json").json()
    rule = boss.post("/api/v1/agent/keyword-rules", {"keyword": "k", "reply": "r"}, format="json").json()
    welcome = boss.post("/api/v1/agent/welcome-texts", {"content": "<b>hi</b>"}, format="json").json()
    assert other.patch(f"/api/v1/agent/canned/{reply.json()['id']}", {"title": "x"}, format="json").status_code == 404
    assert other.delete(f"/api/v1/agent/canned-groups/{group['id']}").status_code == 404
    assert (
        other.post(
            "/api/v1/agent/canned",
            {"scope": "enterprise", "title": "x", "content": "x", "group_id": group["id"]},
            format="json",
        ).status_code
        == 404
    )
    assert other.patch(f"/api/v1/agent/keyword-rules/{rule['id']}", {"reply": "x"}, format="json").status_code == 404
    assert other.delete(f"/api/v1/agent/welcome-texts/{welcome['id']}").status_code == 404
    assert other.get("/api/v1/agent/canned").json()["replies"] == []
    assert other.get("/api/v1/agent/keyword-rules").json()["rules"] == []
    assert [w["content"] for w in other.get("/api/v1/agent/welcome-texts").json()["welcome_texts"]] == ["Globex here."]


def test_rules_and_welcome_texts_need_manage_settings(enterprise, agent):
    alice = agent_client(agent)
    assert alice.get("/api/v1/agent/keyword-rules").status_code == 403
    assert alice.post("/api/v1/agent/keyword-rules", {"keyword": "k", "reply": "r"}, format="json").status_code == 403
    assert alice.get("/api/v1/agent/welcome-texts").status_code == 403
    assert alice.post("/api/v1/agent/welcome-texts", {"content": "x"}, format="json").status_code == 403
    assert KeywordRule.objects.count() == 0 and WelcomeText.objects.count() == 1  # the fixture's


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/api/v1/agent/canned", {"title": "x" * 101, "content": "c"}),
        ("/api/v1/agent/canned", {"title": "t", "content": "c" * 2001}),
        ("/api/v1/agent/canned", {"title": 5, "content": "c"}),
        ("/api/v1/agent/canned", {"title": "", "content": "c"}),
        ("/api/v1/agent/canned", {"title": "t", "content": "c", "scope": "everyone"}),
        ("/api/v1/agent/canned", {"title": "t", "content": "c", "group_id": "1"}),
        ("/api/v1/agent/canned", ["not", "an", "object"]),
        ("/api/v1/agent/keyword-rules", {"keyword": "k", "reply": "r", "match": "regex"}),
        ("/api/v1/agent/keyword-rules", {"keyword": "k", "reply": "r", "priority": "high"}),
        ("/api/v1/agent/keyword-rules", {"keyword": "k", "reply": "r", "priority": 10**20}),
        ("/api/v1/agent/keyword-rules", {"keyword": "k", "reply": "r", "enabled": "yes"}),
        ("/api/v1/agent/keyword-rules", {"keyword": "k" * 101, "reply": "r"}),
        ("/api/v1/agent/welcome-texts", {"content": "<script>alert(1)</script>"}),
        ("/api/v1/agent/welcome-texts", {"content": "x" * 5001}),
        ("/api/v1/agent/welcome-texts", {"content": None}),
    ],
)
def test_bad_input_gets_a_clear_error_and_stores_nothing(enterprise, admin, url, body):
    response = agent_client(admin).post(url, body, format="json")
    assert response.status_code in (400, 404, 413) and response.json()["error"]["code"], response.content
    assert CannedReply.objects.count() == KeywordRule.objects.count() == 0
    assert WelcomeText.objects.count() == 1  # the fixture's


def test_a_lone_surrogate_is_refused(enterprise, agent):
    response = agent_client(agent).generic(
        "POST", "/api/v1/agent/canned", '{"title": "t\\ud800", "content": "c"}', content_type="application/json"
    )
    assert response.status_code == 400 and CannedReply.objects.count() == 0


def test_welcome_html_is_sanitised_to_the_allow_list(enterprise, admin):
    boss = agent_client(admin)
    dirty = (
        '<p onclick="x()">Hi <b>there</b> <i>you</i> <u>u</u> <strong>s</strong> <em>e</em>'
        '<img src=x onerror="alert(1)"><script>alert(2)</script>'
        '<a href="javascript:alert(3)">bad</a> <a href="https://shop.example.com" target="_top">shop</a>'
        '<ul><li>one</li></ul><ol><li>two</li></ol><br><div style="color:red">div</div><iframe src="https://x"></iframe></p>'
    )
    clean = boss.post("/api/v1/agent/welcome-texts", {"content": dirty}, format="json").json()["content"]
    assert "script" not in clean and "alert" not in clean and "onerror" not in clean and "onclick" not in clean
    assert "<img" not in clean and "<iframe" not in clean and "style=" not in clean and "<div" not in clean
    assert "javascript:" not in clean and 'target="_top"' not in clean
    assert '<a href="https://shop.example.com" rel="noopener noreferrer nofollow">shop</a>' in clean
    for tag in ("<b>there</b>", "<i>you</i>", "<u>u</u>", "<strong>s</strong>", "<em>e</em>", "<li>one</li>", "<br>"):
        assert tag in clean


def test_welcome_texts_are_ordered_and_reach_the_visitor_login_and_the_widget(enterprise, admin):
    WelcomeText.objects.filter(enterprise=enterprise).delete()  # the fixture's
    boss = agent_client(admin)
    first = boss.post("/api/v1/agent/welcome-texts", {"content": "<b>One</b>"}, format="json").json()
    boss.post("/api/v1/agent/welcome-texts", {"content": 'Two <a href="https://a.example">link</a>'}, format="json")
    from rest_framework.test import APIClient

    answer = APIClient().post("/api/v1/visitor/login", {"ent_id": str(enterprise.pk)}, format="json").json()
    assert answer["enterprise"]["welcomes"] == [
        "<b>One</b>",
        'Two <a href="https://a.example" rel="noopener noreferrer nofollow">link</a>',
    ]
    assert answer["enterprise"]["welcome"] == "<b>One</b>"
    widget = APIClient().get(f"/api/v1/widget?ent_id={enterprise.pk}").json()
    assert widget["welcome"] == "One"
    boss.patch(f"/api/v1/agent/welcome-texts/{first['id']}", {"position": 5}, format="json")
    again = APIClient().post("/api/v1/visitor/login", {"ent_id": str(enterprise.pk)}, format="json").json()
    assert again["enterprise"]["welcomes"][0].startswith("Two") and again["enterprise"]["welcome"].startswith("Two")


def test_without_welcome_texts_visitors_are_welcomed_with_none(enterprise, admin):
    boss = agent_client(admin)
    for row in boss.get("/api/v1/agent/welcome-texts").json()["welcome_texts"]:
        assert boss.delete(f"/api/v1/agent/welcome-texts/{row['id']}").status_code == 204
    login = login_visitor(Enterprise.objects.get(pk=enterprise.pk))
    from replies.selectors import welcomes_of

    assert welcomes_of(login.enterprise, "zh-hans") == []


def test_keyword_rules_are_listed_edited_and_deleted_by_an_admin(enterprise, admin):
    boss = agent_client(admin)
    rule = boss.post(
        "/api/v1/agent/keyword-rules",
        {"keyword": "价格", "reply": "见商品页", "match": "exact", "priority": 3},
        format="json",
    ).json()
    assert rule["match"] == "exact" and rule["enabled"] is True
    changed = boss.patch(f"/api/v1/agent/keyword-rules/{rule['id']}", {"enabled": False}, format="json").json()
    assert changed["enabled"] is False
    with CaptureQueriesContext(connection) as queries:
        listed = boss.get("/api/v1/agent/keyword-rules").json()["rules"]
    assert [r["keyword"] for r in listed] == ["价格"]
    assert len([q for q in queries.captured_queries if "replies_" in q["sql"]]) == 1
    assert boss.delete(f"/api/v1/agent/keyword-rules/{rule['id']}").status_code == 204
    assert boss.delete(f"/api/v1/agent/keyword-rules/{rule['id']}").status_code == 404


def test_visitor_logins_read_the_welcome_texts_from_the_process_cache(enterprise, admin):
    from rest_framework.test import APIClient

    agent_client(admin).post("/api/v1/agent/welcome-texts", {"content": "<b>One</b>"}, format="json")
    APIClient().post("/api/v1/visitor/login", {"ent_id": str(enterprise.pk)}, format="json")
    with CaptureQueriesContext(connection) as queries:
        again = APIClient().post("/api/v1/visitor/login", {"ent_id": str(enterprise.pk)}, format="json").json()
    assert again["enterprise"]["welcomes"] == ["Welcome to Acme!", "<b>One</b>"]
    assert not [q for q in queries.captured_queries if "replies_" in q["sql"]]
