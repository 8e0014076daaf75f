"""The visitor's page trail: the widget's `page` frame, the service that keeps the newest 50 pages and
announces each to the enterprise's agents after commit, and the agent API that shows them."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from chat import frames
from chat.models import VisitorPage
from chat.pages import PAGES_KEPT, visitor_page_record, visitor_pages
from chat.services import message_create
from core.errors import ChatError
from tests.conftest import login_visitor

from .test_api import agent_client
from .test_consumers import jwt_for
from .wsutil import agent_socket, connect_ready, recv, recv_type, send, visitor_socket

pytestmark = pytest.mark.django_db(transaction=True)


def page_events(published: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    return [(group, f["data"]) for group, f in published if f["type"] == "visitor.page"]


def test_a_page_is_stored_and_announced_to_the_enterprises_agents_only(enterprise, agent, other_agent, published):
    visitor = login_visitor(enterprise).visitor
    page = visitor_page_record(visitor=visitor, url="https://shop.example.com/item/9?c=red#top", title="  Red\nshoe ")
    assert page is not None
    stored = VisitorPage.objects.get()
    assert (stored.enterprise_id, stored.visitor_id) == (enterprise.pk, visitor.pk)
    assert (stored.url, stored.title) == ("https://shop.example.com/item/9?c=red#top", "Red shoe")
    assert page_events(published) == [
        (
            frames.group_agents(enterprise.pk),
            {
                "visitor_id": visitor.visitor_id,
                "page": {
                    "id": stored.pk,
                    "url": stored.url,
                    "title": "Red shoe",
                    "created_at": stored.created_at.isoformat(),
                },
            },
        )
    ]
    assert not any(group == frames.group_agents(other_agent.enterprise_id) for group, _f in published)


def test_the_event_is_published_only_after_the_commit_and_never_for_a_rollback(enterprise, published):
    visitor = login_visitor(enterprise).visitor
    with transaction.atomic():
        visitor_page_record(visitor=visitor, url="https://shop.example.com/a", title="A")
        assert page_events(published) == []  # not before the commit
    assert len(page_events(published)) == 1
    with pytest.raises(RuntimeError), transaction.atomic():
        visitor_page_record(visitor=visitor, url="https://shop.example.com/b", title="B")
        raise RuntimeError("rolled back")
    assert len(page_events(published)) == 1
    assert list(VisitorPage.objects.values_list("url", flat=True)) == ["https://shop.example.com/a"]


def test_an_immediate_repeat_of_the_same_url_is_no_news_but_a_return_later_is(enterprise, published):
    visitor = login_visitor(enterprise).visitor
    urls = ["https://s.example/a", "https://s.example/a", "https://s.example/b", "https://s.example/a"]
    results = [visitor_page_record(visitor=visitor, url=url, title="") for url in urls]
    assert [r is not None for r in results] == [True, False, True, True]
    assert [p["url"] for p in visitor_pages(visitor=visitor)] == [urls[3], urls[2], urls[0]]  # newest first
    assert len(page_events(published)) == 3


def test_only_the_newest_50_pages_of_a_visitor_are_kept(settings, enterprise):
    settings.GOFLY = {**settings.GOFLY, "RATE_VISITOR_PAGES": (1000, 60)}
    visitor = login_visitor(enterprise).visitor
    other = login_visitor(enterprise).visitor
    visitor_page_record(visitor=other, url="https://s.example/other", title="")
    for n in range(PAGES_KEPT + 5):
        visitor_page_record(visitor=visitor, url=f"https://s.example/{n}", title=str(n))
    kept = visitor_pages(visitor=visitor)
    assert len(kept) == PAGES_KEPT == VisitorPage.objects.filter(visitor=visitor).count()
    assert kept[0]["url"] == f"https://s.example/{PAGES_KEPT + 4}"
    assert kept[-1]["url"] == "https://s.example/5"
    assert VisitorPage.objects.filter(visitor=other).count() == 1  # another visitor's trail is untouched


@pytest.mark.parametrize(
    ("url", "title", "code"),
    [
        (None, "", "bad_url"),
        (42, "", "bad_url"),
        (["https://s.example/"], "", "bad_url"),
        ("", "", "bad_url"),
        ("javascript:alert(1)", "", "bad_url"),
        ("ftp://s.example/file", "", "bad_url"),
        ("/relative/path", "", "bad_url"),
        ("https://", "", "bad_url"),
        ("https://s.example/a\nb", "", "bad_url"),
        ("https://s.example/" + "a" * 1000, "", "too_large"),
        ("https://s.example/", 7, "bad_title"),
        ("https://s.example/", {"t": 1}, "bad_title"),
        ("https://s.example/", "t" * 201, "too_large"),
    ],
)
def test_bad_input_is_refused_with_a_clear_code_and_stores_nothing(enterprise, published, url, title, code):
    visitor = login_visitor(enterprise).visitor
    with pytest.raises(ChatError) as caught:
        visitor_page_record(visitor=visitor, url=url, title=title)
    assert caught.value.code == code
    assert not VisitorPage.objects.exists()
    assert page_events(published) == []


def test_pages_are_rate_limited_per_visitor(settings, enterprise):
    settings.GOFLY = {**settings.GOFLY, "RATE_VISITOR_PAGES": (3, 60)}
    visitor = login_visitor(enterprise).visitor
    other = login_visitor(enterprise).visitor
    for n in range(3):
        visitor_page_record(visitor=visitor, url=f"https://s.example/{n}", title="")
    with pytest.raises(ChatError) as caught:
        visitor_page_record(visitor=visitor, url="https://s.example/3", title="")
    assert (caught.value.code, caught.value.status) == ("rate_limited", 429)
    assert VisitorPage.objects.filter(visitor=visitor).count() == 3
    assert visitor_page_record(visitor=other, url="https://s.example/3", title="") is not None


def test_the_visitor_detail_shows_the_recent_pages_to_its_enterprise_only(enterprise, agent, other_agent):
    visitor = login_visitor(enterprise).visitor
    visitor_page_record(visitor=visitor, url="https://s.example/a", title="A")
    visitor_page_record(visitor=visitor, url="https://s.example/b", title="B")
    body = agent_client(agent).get(f"/api/v1/agent/visitors/{visitor.visitor_id}").json()
    assert [(p["url"], p["title"]) for p in body["pages"]] == [
        ("https://s.example/b", "B"),
        ("https://s.example/a", "A"),
    ]
    refused = agent_client(other_agent).get(f"/api/v1/agent/visitors/{visitor.visitor_id}")
    assert refused.status_code == 404 and refused.json()["error"]["code"] == "not_found"
    # Another enterprise's visitor's pages are never among this visitor's.
    stranger = login_visitor(other_agent.enterprise).visitor
    visitor_page_record(visitor=stranger, url="https://globex.example/secret", title="Secret")
    urls = [p["url"] for p in agent_client(agent).get(f"/api/v1/agent/visitors/{visitor.visitor_id}").json()["pages"]]
    assert "https://globex.example/secret" not in urls


def test_reading_the_pages_is_one_query_and_a_chat_message_costs_no_query_for_them(enterprise, agent):
    visitor = login_visitor(enterprise, agent).visitor
    with CaptureQueriesContext(connection) as read:
        visitor_pages(visitor=visitor)
    assert len(read) == 1
    message_create(visitor=visitor, sender="visitor", content="warm-up", client_id="c-0")
    with CaptureQueriesContext(connection) as sent:
        message_create(visitor=visitor, sender="visitor", content="hello", client_id="c-1")
    assert not [q for q in sent.captured_queries if "visitorpage" in q["sql"].lower()]


async def test_the_page_frame_reaches_the_agents_and_bad_frames_get_an_error_not_a_close(enterprise, agent):
    agent_ws = agent_socket(jwt=jwt_for(agent))
    await connect_ready(agent_ws)
    result = await database_sync_to_async(login_visitor)(enterprise, agent)
    visitor_ws = visitor_socket(result.token)
    await connect_ready(visitor_ws)

    await send(visitor_ws, "page", {"url": "https://shop.example.com/cart", "title": "Cart"})
    event = await recv_type(agent_ws, "visitor.page")
    assert event["visitor_id"] == result.visitor.visitor_id
    assert (event["page"]["url"], event["page"]["title"]) == ("https://shop.example.com/cart", "Cart")

    bad: list[tuple[dict[str, Any], str]] = [
        ({"url": "javascript:alert(1)", "title": "x", "ref": "p-1"}, "bad_url"),
        ({"url": 5}, "bad_url"),
        ({"url": "https://s.example/", "title": ["x"]}, "bad_title"),
        ({"url": "https://s.example/" + "a" * 1000}, "too_large"),
    ]
    for data, code in bad:
        await send(visitor_ws, "page", data)
        error = await recv_type(visitor_ws, "error")
        assert error["code"] == code
        assert error.get("ref") == data.get("ref")
    await send(visitor_ws, "ping")
    assert (await recv(visitor_ws))["type"] == "pong"  # still open
    assert await database_sync_to_async(VisitorPage.objects.count)() == 1

    # An agent cannot send it.
    await send(agent_ws, "page", {"url": "https://s.example/"})
    assert (await recv_type(agent_ws, "error"))["code"] == "unknown_type"
    await visitor_ws.disconnect()
    await agent_ws.disconnect()
