"""The agents' search: by visitor id, name, remark name, tag, IP and message text; tenant-scoped, bounded,
in a fixed number of queries."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chat import search, workspace
from chat.models import Message
from chat.services import message_create
from tests.chat.test_api import agent_client
from tests.conftest import login_visitor

pytestmark = pytest.mark.django_db(transaction=True)


def _ids(response):
    assert response.status_code == 200, response.content
    return [item["visitor_id"] for item in response.json()["visitors"]]


def test_agents_find_visitors_by_id_name_remark_tag_ip_and_message_text(enterprise, agent, boss):
    ann = login_visitor(enterprise, agent, visitor_name="Ann Lee", ip="198.51.100.23").visitor
    bob = login_visitor(enterprise, agent, visitor_name="Bob", ip="203.0.113.9").visitor
    workspace.visitor_remark_set(agent=agent, visitor_id=bob.visitor_id, real_name="Mr Zhang")
    tag = workspace.tag_create(agent=boss, name="Wholesale")
    workspace.visitor_tag_add(agent=agent, visitor_id=ann.visitor_id, tag_id=tag.pk)
    message_create(
        visitor=bob, sender=Message.Sender.VISITOR, content="Where is my parcel #A-1234 please?", client_id="1"
    )
    client = agent_client(agent)
    get = lambda q: _ids(client.get("/api/v1/agent/search", {"q": q}))  # noqa: E731
    assert get(ann.visitor_id) == [ann.visitor_id]
    assert get("ann l") == [ann.visitor_id]
    assert get("zhang") == [bob.visitor_id]
    assert get("wholes") == [ann.visitor_id]
    assert get("198.51.100") == [ann.visitor_id]
    assert get("parcel #a-12") == [bob.visitor_id]
    found = client.get("/api/v1/agent/search", {"q": "parcel"}).json()["visitors"][0]
    assert "parcel #A-1234" in found["match"] and found["real_name"] == "Mr Zhang"
    assert client.get("/api/v1/agent/search", {"q": "Ann"}).json()["visitors"][0]["match"] is None
    assert _ids(client.get("/api/v1/agent/search", {"tag": tag.pk})) == [ann.visitor_id]
    assert _ids(client.get("/api/v1/agent/search", {"tag": str(tag.pk), "q": "bob"})) == []
    assert _ids(client.get("/api/v1/agent/search", {"q": ""})) == []
    assert get("nothing like it") == []


def test_notes_are_searchable_by_agents(enterprise, agent):
    visitor = login_visitor(enterprise, agent).visitor
    message_create(visitor=visitor, sender=Message.Sender.VISITOR, content="hi", client_id="1")
    message_create(visitor=visitor, sender=Message.Sender.NOTE, content="owes us 300 yuan", client_id="n", agent=agent)
    assert _ids(agent_client(agent).get("/api/v1/agent/search", {"q": "300 yuan"})) == [visitor.visitor_id]


def test_search_never_finds_another_enterprises_visitors_or_messages(enterprise, agent, other_enterprise, other_agent):
    theirs = login_visitor(other_enterprise, other_agent, visitor_name="Secret Sam").visitor
    message_create(visitor=theirs, sender=Message.Sender.VISITOR, content="password is swordfish", client_id="1")
    client = agent_client(agent)
    for q in ("Sam", "swordfish", theirs.visitor_id, "203.0.113"):
        assert _ids(client.get("/api/v1/agent/search", {"q": q})) == []


def test_bad_searches_are_refused_clearly(enterprise, agent):
    client = agent_client(agent)
    for params in ({"q": "x" * 101}, {"q": "a\x00b"}):
        response = client.get("/api/v1/agent/search", params)
        assert response.status_code == 400 and response.json()["error"]["code"] == "bad_query"
    for tag in ("abc", "-1", "9" * 40, "0"):
        assert client.get("/api/v1/agent/search", {"tag": tag}).status_code == 404


def test_search_is_bounded_and_costs_a_fixed_number_of_queries(enterprise, agent, boss, settings):
    tag = workspace.tag_create(agent=boss, name="t")
    for n in range(search.RESULTS_MAX + 5):
        visitor = login_visitor(enterprise, None, visitor_name=f"Guest {n}", ip=None).visitor
        message_create(visitor=visitor, sender=Message.Sender.VISITOR, content=f"needle {n}", client_id="1")
        workspace.visitor_tag_add(agent=agent, visitor_id=visitor.visitor_id, tag_id=tag.pk)
    for kwargs in ({"q": "needle", "tag_id": None}, {"q": "guest", "tag_id": tag.pk}, {"q": "", "tag_id": tag.pk}):
        with CaptureQueriesContext(connection) as queries:
            results = search.search(enterprise_id=enterprise.pk, online=set(), **kwargs)  # type: ignore[arg-type]
        assert len(results) == search.RESULTS_MAX
        assert len(queries) <= 5, [q["sql"] for q in queries.captured_queries]
