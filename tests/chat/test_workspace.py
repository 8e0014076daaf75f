"""Remark names and tags: services, agent API, events to agents only, permissions and tenant isolation."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts.permissions import ROLE_ENTERPRISE_ADMIN
from accounts.services import agent_create
from chat import frames, workspace
from chat.models import Tag, Visitor, VisitorTag
from core.errors import ChatError
from tests.chat.test_api import agent_client
from tests.conftest import AGENT_PASSWORD, login_visitor

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def other_boss(other_enterprise, other_agent):
    return agent_create(
        enterprise=other_enterprise, username="gboss", password=AGENT_PASSWORD, role=ROLE_ENTERPRISE_ADMIN
    )


def test_any_agent_sets_a_remark_name_and_every_agent_hears_it_after_commit(enterprise, agent, published):
    visitor = login_visitor(enterprise, agent).visitor
    workspace.visitor_remark_set(agent=agent, visitor_id=visitor.visitor_id, real_name="  Mrs Wang  ")
    visitor.refresh_from_db()
    assert visitor.real_name == "Mrs Wang"
    assert published == [
        (frames.group_agents(enterprise.pk), frames.visitor_remark_frame(visitor.visitor_id, "Mrs Wang"))
    ]
    assert all(group != frames.group_visitor(visitor.pk) for group, _frame in published)


def test_a_remark_name_is_refused_when_too_long_or_not_text_and_for_another_enterprise(enterprise, agent, other_agent):
    visitor = login_visitor(enterprise, agent).visitor
    for bad in ["x" * 101, 12, None, "a\nb", "nul\x00"]:
        with pytest.raises(ChatError) as caught:
            workspace.visitor_remark_set(agent=agent, visitor_id=visitor.visitor_id, real_name=bad)
        assert caught.value.code == "bad_real_name"
    with pytest.raises(ChatError) as caught:
        workspace.visitor_remark_set(agent=other_agent, visitor_id=visitor.visitor_id, real_name="x")
    assert caught.value.code == "not_found"
    assert Visitor.objects.get(pk=visitor.pk).real_name == ""


def test_the_remark_name_never_reaches_the_visitor_login_answer(enterprise, agent):
    login = login_visitor(enterprise, agent)
    workspace.visitor_remark_set(agent=agent, visitor_id=login.visitor.visitor_id, real_name="VIP buyer")
    again = (
        APIClient().post("/api/v1/visitor/login", {"ent_id": enterprise.pk, "token": login.token}, format="json").json()
    )
    assert "VIP buyer" not in str(again)


def test_the_api_sets_the_remark_name_and_the_details_show_it_with_the_tags(enterprise, agent, boss):
    visitor = login_visitor(enterprise, agent).visitor
    client = agent_client(agent)
    answer = client.patch(f"/api/v1/agent/visitors/{visitor.visitor_id}", {"real_name": "Wang"}, format="json")
    assert answer.status_code == 200
    assert answer.json() == {"visitor_id": visitor.visitor_id, "real_name": "Wang"}
    tag = workspace.tag_create(agent=boss, name="VIP", colour="red")
    workspace.visitor_tag_add(agent=agent, visitor_id=visitor.visitor_id, tag_id=tag.pk)
    details = client.get(f"/api/v1/agent/visitors/{visitor.visitor_id}").json()
    assert details["real_name"] == "Wang"
    assert details["tags"] == [tag.pk]
    listed = client.get("/api/v1/agent/visitors").json()["visitors"]
    assert listed[0]["real_name"] == "Wang"
    assert client.patch(f"/api/v1/agent/visitors/{visitor.visitor_id}", {}, format="json").status_code == 400
    assert client.patch(f"/api/v1/agent/visitors/{visitor.visitor_id}", [1], format="json").status_code == 400
    assert client.patch("/api/v1/agent/visitors/nobody", {"real_name": "x"}, format="json").status_code == 404


def test_only_admins_manage_tags_and_agents_are_refused_with_403(enterprise, agent, boss, published):
    with pytest.raises(ChatError) as caught:
        workspace.tag_create(agent=agent, name="VIP")
    assert caught.value.status == 403
    tag = workspace.tag_create(agent=boss, name="VIP", colour="red")
    for call in (
        lambda: workspace.tag_update(agent=agent, tag_id=tag.pk, name="V"),
        lambda: workspace.tag_delete(agent=agent, tag_id=tag.pk),
    ):
        with pytest.raises(ChatError) as caught:
            call()
        assert caught.value.status == 403
    client = agent_client(agent)
    assert client.post("/api/v1/agent/tags", {"name": "x"}, format="json").status_code == 403
    assert client.patch(f"/api/v1/agent/tags/{tag.pk}", {"name": "x"}, format="json").status_code == 403
    assert client.delete(f"/api/v1/agent/tags/{tag.pk}").status_code == 403
    assert client.get("/api/v1/agent/tags").json() == {"tags": [{"id": tag.pk, "name": "VIP", "colour": "red"}]}
    assert published == [(frames.group_agents(enterprise.pk), frames.tag_saved_frame(frames.tag_payload(tag)))]


def test_admins_create_rename_recolour_and_delete_tags_through_the_api(enterprise, agent, boss, published):
    client = agent_client(boss)
    created = client.post("/api/v1/agent/tags", {"name": "VIP", "colour": "green"}, format="json")
    assert created.status_code == 201
    tag_id = created.json()["id"]
    assert client.post("/api/v1/agent/tags", {"name": "vip"}, format="json").json()["error"]["code"] == "tag_exists"
    assert client.post("/api/v1/agent/tags", {"name": "x", "colour": "#fff"}, format="json").status_code == 400
    assert client.post("/api/v1/agent/tags", {"name": ""}, format="json").status_code == 400
    assert client.post("/api/v1/agent/tags", {"name": "y" * 31}, format="json").status_code == 400
    changed = client.patch(f"/api/v1/agent/tags/{tag_id}", {"name": "Gold", "colour": "yellow"}, format="json")
    assert changed.json() == {"id": tag_id, "name": "Gold", "colour": "yellow"}
    visitor = login_visitor(enterprise, agent).visitor
    workspace.visitor_tag_add(agent=agent, visitor_id=visitor.visitor_id, tag_id=tag_id)
    assert client.delete(f"/api/v1/agent/tags/{tag_id}").status_code == 204
    assert not VisitorTag.objects.exists()
    assert [frame["type"] for _group, frame in published] == ["tag.saved", "tag.saved", "visitor.tags", "tag.deleted"]
    assert {group for group, _frame in published} == {frames.group_agents(enterprise.pk)}


def test_another_enterprises_tags_and_visitors_answer_like_missing_ones(
    enterprise, agent, boss, other_agent, other_boss
):
    tag = workspace.tag_create(agent=boss, name="VIP")
    theirs = workspace.tag_create(agent=other_boss, name="VIP")  # same name, other enterprise: allowed
    visitor = login_visitor(enterprise, agent).visitor
    their_client = agent_client(other_boss)
    for response in (
        their_client.patch(f"/api/v1/agent/tags/{tag.pk}", {"name": "x"}, format="json"),
        their_client.delete(f"/api/v1/agent/tags/{tag.pk}"),
        agent_client(other_agent).post(
            f"/api/v1/agent/visitors/{visitor.visitor_id}/tags", {"tag_id": theirs.pk}, format="json"
        ),
        agent_client(agent).post(
            f"/api/v1/agent/visitors/{visitor.visitor_id}/tags", {"tag_id": theirs.pk}, format="json"
        ),
        agent_client(agent).get(f"/api/v1/agent/search?tag={theirs.pk}"),
        agent_client(boss).delete(f"/api/v1/agent/tags/{'9' * 30}"),
        agent_client(agent).post(f"/api/v1/agent/visitors/{visitor.visitor_id}/tags", {"tag_id": "abc"}, format="json"),
    ):
        assert response.status_code == 404, response.content
        assert response.json()["error"]["code"] == "not_found"
    assert Tag.objects.get(pk=tag.pk).name == "VIP"
    assert not VisitorTag.objects.exists()


def test_any_agent_adds_and_removes_a_tag_on_a_visitor_once(enterprise, agent, boss, published):
    tag = workspace.tag_create(agent=boss, name="VIP")
    visitor = login_visitor(enterprise, agent).visitor
    client = agent_client(agent)
    url = f"/api/v1/agent/visitors/{visitor.visitor_id}/tags"
    assert client.post(url, {"tag_id": tag.pk}, format="json").json() == {
        "visitor_id": visitor.visitor_id,
        "tags": [tag.pk],
    }
    assert client.post(url, {"tag_id": tag.pk}, format="json").json()["tags"] == [tag.pk]  # again: no change
    assert VisitorTag.objects.count() == 1
    assert client.delete(f"{url}/{tag.pk}").json()["tags"] == []
    assert client.delete(f"{url}/{tag.pk}").json()["tags"] == []
    tags_frames = [frame for _group, frame in published if frame["type"] == "visitor.tags"]
    assert tags_frames == [
        frames.visitor_tags_frame(visitor.visitor_id, [tag.pk]),
        frames.visitor_tags_frame(visitor.visitor_id, []),
    ]


def test_the_tag_list_costs_one_query(enterprise, agent, boss):
    for name in ("a", "b", "c"):
        workspace.tag_create(agent=boss, name=name)
    with CaptureQueriesContext(connection) as queries:
        tags = workspace.tags_of_enterprise(enterprise_id=enterprise.pk)
    assert [tag["name"] for tag in tags] == ["a", "b", "c"]
    assert len(queries) == 1


def test_the_visitor_details_cost_no_more_than_one_query_more_for_tags(enterprise, agent, boss):
    visitor = login_visitor(enterprise, agent).visitor
    with CaptureQueriesContext(connection) as queries:
        assert workspace.tags_of_visitor(visitor=visitor) == []
    assert len(queries) == 1


def test_the_workspace_frames_have_their_documented_shapes(enterprise, agent, boss):
    tag = workspace.tag_create(agent=boss, name="VIP", colour="teal")
    assert frames.tag_payload(tag) == {"id": tag.pk, "name": "VIP", "colour": "teal"}
    assert frames.tag_saved_frame(frames.tag_payload(tag)) == {
        "type": "tag.saved",
        "data": {"tag": {"id": tag.pk, "name": "VIP", "colour": "teal"}},
    }
    assert frames.tag_deleted_frame(3) == {"type": "tag.deleted", "data": {"id": 3}}
    assert frames.visitor_tags_frame("v1", [1, 2]) == {
        "type": "visitor.tags",
        "data": {"visitor_id": "v1", "tags": [1, 2]},
    }
    assert frames.visitor_remark_frame("v1", "Wang") == {
        "type": "visitor.remark",
        "data": {"visitor_id": "v1", "real_name": "Wang"},
    }
