"""Browser test: the console shows where a visitor is and what they use, as the server worked it out at login."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import AGENT_PASSWORD
from tests.e2e import test_browser as base

pytestmark = base.pytestmark
expect = base.expect


WECHAT = (
    "Mozilla/5.0 (Linux; Android 13; V2183A Build/TP1A.220624.014; wv) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Version/4.0 Chrome/107.0.5304.141 Mobile Safari/537.36 MicroMessenger/8.0.35.2360(0x2800235D) WeChat/arm64"
)


@pytest.mark.django_db(transaction=True)
def test_the_console_shows_location_and_browser_of_a_visitor_from_shenzhen_on_wechat(
    browser: Any, server: str, enterprise: Any, agent: Any
) -> None:
    # The test server trusts X-Forwarded-For from 127.0.0.1 (TRUSTED_PROXIES), as behind nginx.
    headers = {"X-Forwarded-For": "58.250.137.36", "User-Agent": WECHAT}
    login = httpx.post(
        f"{server}/api/v1/visitor/login",
        json={"ent_id": enterprise.pk, "refer": "https://www.baidu.com/s?wd=%E5%9C%A8%E7%BA%BF%E5%AE%A2%E6%9C%8D"},
        headers=headers,
    ).json()
    visitor_id: str = login["visitor"]["visitor_id"]
    sent = httpx.post(
        f"{server}/api/v1/visitor/messages",
        json={"client_id": "c1", "content": "你好"},
        headers={**headers, "Authorization": f"Visitor {login['token']}"},
    )
    assert sent.status_code in (200, 201)

    page: Any = browser.new_page(locale="zh-CN")
    base.log_in(page, server, agent.username, AGENT_PASSWORD)
    line = base.row(page, visitor_id)
    expect(line.locator(".vrow__where")).to_have_text("广东 深圳")
    line.locator(".vrow__btn").click()
    details = page.locator("#info-body")
    for text in ("广东 深圳", "联通", "Android 13", "WeChat 8.0.35", "在线客服"):
        expect(details).to_contain_text(text)
    base.shot(page, "visitor-info")
    assert (base.ARTIFACTS / "visitor-info.png").exists()
