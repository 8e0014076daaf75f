"""Who the visitor is (core.clientinfo), filled at login and refreshed by a new one, shown to agents only."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chat.services import message_create
from core import clientinfo
from tests.conftest import login_visitor
from tests.core.test_clientinfo import UAS

from .test_api import agent_client


@pytest.fixture(autouse=True)
def fresh_sources(settings) -> Iterator[None]:
    settings.GOFLY = {**settings.GOFLY, "GEOIP_DB": ""}
    clientinfo.reset()
    yield
    clientinfo.reset()


login_db = pytest.mark.django_db(transaction=True)


@login_db
def test_a_login_fills_who_the_visitor_is_and_a_new_login_refreshes_it(enterprise, agent):
    result = login_visitor(
        enterprise,
        agent,
        ip="58.250.137.36",
        user_agent=UAS["wechat_android"],
        referrer="https://www.baidu.com/s?wd=%E5%AE%A2%E6%9C%8D",
    )
    visitor = result.visitor
    visitor.refresh_from_db()
    assert (visitor.city, visitor.country, visitor.region, visitor.isp) == ("广东 深圳", "中国", "广东", "联通")
    assert (visitor.os, visitor.browser, visitor.device, visitor.device_model) == (
        "Android 13",
        "WeChat 8.0.35",
        "mobile",
        "V2183A",
    )
    assert visitor.search_words == "客服"
    assert visitor.avatar == "/static/img/visitor-mobile.svg"
    # The same visitor back from the office: where and what from follow the latest login.
    again = login_visitor(
        enterprise, agent, token=result.token, ip="10.0.0.8", user_agent=UAS["edge"], referrer="https://x.example/"
    ).visitor
    again.refresh_from_db()
    assert again.pk == visitor.pk and again.visits == 2
    assert (again.city, again.country, again.region, again.isp, again.search_words) == ("", "", "", "", "")
    assert (again.os, again.browser, again.device) == ("Windows 10", "Edge 120", "desktop")


@login_db
def test_agents_see_the_new_fields_in_the_list_and_the_details_at_the_same_query_cost(enterprise, agent):
    client = agent_client(agent)

    def count(path: str) -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(path).status_code == 200
        return len(ctx.captured_queries)

    first = login_visitor(enterprise, agent, ip="223.5.5.5", user_agent=UAS["chrome_windows"]).visitor
    message_create(visitor=first, sender="visitor", content="q", client_id="q")
    list_one = count("/api/v1/agent/visitors")
    detail = count(f"/api/v1/agent/visitors/{first.visitor_id}")
    for i in range(9):
        v = login_visitor(enterprise, agent, ip=f"58.250.137.{i + 1}", user_agent=UAS["safari_iphone"]).visitor
        message_create(visitor=v, sender="visitor", content=f"q{i}", client_id="q")
    assert count("/api/v1/agent/visitors") == list_one
    assert count(f"/api/v1/agent/visitors/{first.visitor_id}") == detail
    rows = {v["visitor_id"]: v for v in client.get("/api/v1/agent/visitors").json()["visitors"]}
    row = rows[first.visitor_id]
    assert {k: row[k] for k in ("city", "country", "region", "isp", "os", "browser", "device", "device_model")} == {
        "city": "浙江 杭州",
        "country": "中国",
        "region": "浙江",
        "isp": "阿里云",
        "os": "Windows 10",
        "browser": "Chrome 120",
        "device": "desktop",
        "device_model": "",
    }
    body = client.get(f"/api/v1/agent/visitors/{first.visitor_id}").json()
    assert body["city"] == "浙江 杭州" and body["search_words"] == "" and len(body["conversations"]) == 1
