"""The custom menu page of the management area (/manage/wechat/menu/): a draft saved, published to WeChat
exactly as checked, read back, deleted; WeChat's refusals shown with their errcode and nothing lost; bad input
never a 500; only the enterprise's admins in. And a follower's click on a menu button reaching the desk."""

from __future__ import annotations

import html
import json
from typing import Any

import pytest
from django.test import Client

from accounts.models import User
from accounts.permissions import ROLE_ENTERPRISE_ADMIN
from accounts.services import agent_create, role_save
from chat.models import Message, Visitor
from core.errors import ChatError
from core.ratelimit import rate_limits_clear
from enterprises.models import AuditAction, AuditEntry, Enterprise
from tests.conftest import AGENT_PASSWORD
from wechat.inbound import EXTRA_MENU_KEY
from wechat.models import WechatAccount, WechatFollower
from wechat.services import wechat_menu_publish, wechat_menu_save

from . import fakeserver as fw
from .test_callback import deliver

pytestmark = pytest.mark.django_db

PAGE = "/manage/wechat/menu/"
CREATE, GET, DELETE = "/cgi-bin/menu/create", "/cgi-bin/menu/get", "/cgi-bin/menu/delete"

MENU: dict[str, Any] = {
    "button": [
        {"type": "click", "name": "联系客服", "key": "DESK"},
        {
            "name": "更多",
            "sub_button": [
                {"type": "view", "name": "官网", "url": "https://www.example.com/"},
                {"type": "click", "name": "优惠", "key": "OFFERS"},
            ],
        },
    ]
}


@pytest.fixture(autouse=True)
def fresh_limits() -> None:
    rate_limits_clear()


def signed_in(user: User) -> Client:
    client = Client(headers={"accept-language": "en"})
    client.force_login(User.objects.get(pk=user.pk))
    return client


def shown(answer: Any) -> str:
    return html.unescape(answer.content.decode())


def post(client: Client, action: str, menu: Any = None, **kw: Any) -> Any:
    data = {"action": action}
    if menu is not None:
        data["menu"] = menu if isinstance(menu, str) else json.dumps(menu, ensure_ascii=False)
    return client.post(PAGE, data, **kw)


@pytest.fixture
def other_boss(other_enterprise: Enterprise) -> User:
    return agent_create(
        enterprise=other_enterprise, username="globexboss", password=AGENT_PASSWORD, role=ROLE_ENTERPRISE_ADMIN
    )


def test_an_admin_saves_a_draft_that_is_stored_normalised_and_audited(wechat_account, wechat_boss, fake_wechat):
    client = signed_in(wechat_boss)
    page = client.get("/manage/")
    assert PAGE in page.content.decode()  # on the area's index
    messy = {"button": [{"type": "click", "name": "  联系客服 ", "key": "DESK", "sub_button": []}, MENU["button"][1]]}
    assert post(client, "save", messy).status_code == 302
    assert WechatAccount.objects.get(pk=wechat_account.pk).menu == MENU
    assert fake_wechat.count(CREATE) == 0  # a draft stays here
    entry = AuditEntry.objects.get(action=AuditAction.SETTINGS_CHANGED, target_type="wechat_menu")
    assert entry.details == {"wechat": "menu_saved", "buttons": 3} and entry.actor_id == wechat_boss.pk
    page_text = shown(client.get(PAGE))
    assert '"name": "联系客服"' in page_text and "/static/js/wechat-menu." in page_text
    assert "<script>" not in page_text  # our own file only, and the limits as JSON data
    policy = client.get(PAGE)["Content-Security-Policy"]
    assert "script-src 'self';" in policy + ";" and "unsafe-inline" not in policy


def test_publishing_sends_wechat_exactly_the_checked_menu_and_notes_when(wechat_account, wechat_boss, fake_wechat):
    client = signed_in(wechat_boss)
    messy = json.loads(json.dumps(MENU))
    messy["button"][0]["name"] = " 联系客服"
    messy["button"][1]["sub_button"][0]["sub_button"] = []
    answer = post(client, "publish", messy, follow=True)
    assert answer.status_code == 200 and "The menu is published" in shown(answer)
    [call] = fake_wechat.calls(CREATE)
    assert call.json == MENU
    assert fake_wechat.state.menu == MENU
    account = WechatAccount.objects.get(pk=wechat_account.pk)
    assert account.menu == MENU and account.menu_published_at is not None
    assert AuditEntry.objects.filter(target_type="wechat_menu", details__wechat="menu_published").count() == 1


def test_a_menu_breaking_wechats_rules_is_not_published_and_each_problem_is_named(
    wechat_account, wechat_boss, fake_wechat
):
    client = signed_in(wechat_boss)
    post(client, "save", MENU)
    bad = {"button": [{"type": "click", "name": "一二三四五六", "key": "A"}, {"type": "view", "name": "", "url": "x"}]}
    answer = post(client, "publish", bad)
    assert answer.status_code == 400
    text = shown(answer)
    assert 'data-field="button.0.name"' in text and "18 bytes long; WeChat allows at most 16" in text
    assert 'data-field="button.1.name"' in text and 'data-field="button.1.url"' in text
    assert '"name": "一二三四五六"' in text  # what was typed stays in the editor
    assert fake_wechat.count(CREATE) == 0
    assert WechatAccount.objects.get(pk=wechat_account.pk).menu == MENU  # the draft is untouched


def test_a_wechat_refusal_is_shown_with_its_errcode_and_the_draft_is_kept(wechat_account, wechat_boss, fake_wechat):
    client = signed_in(wechat_boss)
    fake_wechat.fail_errcode(48001, "api unauthorized", path=CREATE)
    answer = post(client, "publish", MENU, follow=True)
    text = shown(answer)
    assert answer.status_code == 200 and "WeChat refused: errcode 48001, api unauthorized" in text
    assert "The draft is saved." in text
    account = WechatAccount.objects.get(pk=wechat_account.pk)
    assert account.menu == MENU and account.menu_published_at is None
    assert not AuditEntry.objects.filter(details__wechat="menu_published").exists()
    fake_wechat.fail_server_error(status=502, path=CREATE)
    text = shown(post(client, "publish", MENU, follow=True))
    assert "WeChat could not be reached (HTTP 502)" in text
    assert fake_wechat.state.menu is None


def test_the_live_menu_is_read_back_shown_and_loaded_into_the_editor_unsaved(wechat_account, wechat_boss, fake_wechat):
    client = signed_in(wechat_boss)
    answer = post(client, "fetch")
    assert answer.status_code == 200 and 'id="wechat-menu-live-none"' in answer.content.decode()  # 46003
    fake_wechat.state.menu = {"button": [{**MENU["button"][0], "sub_button": []}, MENU["button"][1]]}
    raw = post(client, "fetch").content.decode()
    text = html.unescape(raw)
    assert fake_wechat.count(GET) == 2
    assert 'id="wechat-menu-live-json"' in text and '"key": "OFFERS"' in text
    # The page's "Load into the editor" form posts the live menu back as it showed it.
    hidden = html.unescape(raw.split('<input type="hidden" name="menu" value="', 1)[1].split('"', 1)[0])
    assert json.loads(hidden) == fake_wechat.state.menu  # as WeChat gave it
    loaded = post(client, "load", hidden)
    assert loaded.status_code == 200
    editor = shown(loaded).split('id="wechat-menu-json"', 1)[1].split("</textarea>", 1)[0]
    assert json.loads(editor.split(">", 1)[1]) == MENU
    assert WechatAccount.objects.get(pk=wechat_account.pk).menu == {}  # not saved until the admin says so
    fake_wechat.fail_errcode(40001, "invalid credential", times=2, path=GET)
    assert "errcode 40001" in shown(post(client, "fetch"))


def test_deleting_removes_wechats_menu_and_keeps_the_draft(wechat_account, wechat_boss, fake_wechat):
    client = signed_in(wechat_boss)
    post(client, "publish", MENU)
    answer = post(client, "delete", follow=True)
    assert "deleted from WeChat" in shown(answer)
    assert fake_wechat.count(DELETE) == 1 and fake_wechat.state.menu is None
    account = WechatAccount.objects.get(pk=wechat_account.pk)
    assert account.menu == MENU and account.menu_published_at is None
    fake_wechat.fail_errcode(45009, "reach max api daily quota limit", path=DELETE)
    assert "errcode 45009" in shown(post(client, "delete", follow=True))


@pytest.mark.parametrize(
    "body",
    [
        "{not json",
        "[" * 3000 + "]" * 3000,
        json.dumps({"button": [{"name": "m", "sub_button": [{"sub_button": [{"x": {"y": 1}}]}]}]}),
        json.dumps({"button": []}) + " " * 40000,
        json.dumps({"button": "three"}),
        json.dumps({"button": [{"type": ["click"], "name": {"a": 1}, "key": 5}]}),
        json.dumps([1, 2, 3]),
        '{"button": [{"type": "click", "name": "\\udfff", "key": "k"}]}',
        "null",
        "12",
    ],
)
@pytest.mark.parametrize("action", ["save", "publish", "load"])
def test_bad_input_is_a_clear_error_never_a_500(wechat_account, wechat_boss, fake_wechat, body, action):
    answer = post(signed_in(wechat_boss), action, body)
    assert answer.status_code == 400
    assert 'id="wechat-menu-problems"' in answer.content.decode()
    assert WechatAccount.objects.get(pk=wechat_account.pk).menu == {}
    assert fake_wechat.count(CREATE) == 0


def test_text_that_is_not_utf_8_is_a_clear_error(wechat_account, wechat_boss, fake_wechat):
    answer = signed_in(wechat_boss).post(
        PAGE,
        data=b"action=save&menu=%7B%22button%22%3A%5B%5D%7D%FF%FE",
        content_type="application/x-www-form-urlencoded",
    )
    assert answer.status_code == 400 and "valid Unicode" in shown(answer)


def test_without_an_account_the_page_says_to_configure_it_first(enterprise, wechat_boss, fake_wechat):
    client = signed_in(wechat_boss)
    assert 'id="wechat-menu-no-account"' in client.get(PAGE).content.decode()
    answer = post(client, "save", MENU)
    assert answer.status_code == 400 and "settings first" in shown(answer)
    assert not WechatAccount.objects.exists()


def test_a_plain_agent_a_settings_less_admin_and_a_stranger_cannot_use_the_page(
    enterprise, agent, wechat_boss, wechat_account, fake_wechat
):
    lead_role = role_save(actor=wechat_boss, label="Team lead", permissions=["take", "manage_agents"])
    lead = agent_create(enterprise=enterprise, username="lead", password=AGENT_PASSWORD, role=lead_role.slug)
    for user in (agent, lead):
        for action in ("save", "publish", "delete", "fetch"):
            assert post(signed_in(user), action, MENU).status_code == 403
        assert signed_in(user).get(PAGE).status_code == 403
    anonymous = post(Client(), "publish", MENU)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/login?next=")
    assert WechatAccount.objects.get(pk=wechat_account.pk).menu == {}
    assert [call.path for call in fake_wechat.requests if call.path.startswith("/cgi-bin/menu")] == []
    for service in (wechat_menu_save, wechat_menu_publish):
        with pytest.raises(ChatError) as refused:
            service(actor=agent, menu=MENU)
        assert refused.value.code == "forbidden"


def test_another_enterprises_admin_reaches_only_their_own_account(wechat_account, wechat_boss, other_boss, fake_wechat):
    signed_in(wechat_boss).post(PAGE, {"action": "save", "menu": json.dumps(MENU)})
    theirs = signed_in(other_boss)
    page = theirs.get(PAGE)
    assert page.status_code == 200 and "联系客服" not in shown(page) and 'id="wechat-menu-no-account"' in shown(page)
    for action in ("save", "publish", "fetch", "delete"):
        assert post(theirs, action, {"button": [{"type": "click", "name": "x", "key": "X"}]}).status_code == 400
    assert WechatAccount.objects.get(pk=wechat_account.pk).menu == MENU
    assert [call.path for call in fake_wechat.requests if call.path.startswith("/cgi-bin/menu")] == []


def test_wechat_calls_from_the_page_are_rate_limited_per_enterprise(wechat_account, wechat_boss, fake_wechat):
    client = signed_in(wechat_boss)
    for _ in range(20):
        post(client, "fetch")
    answer = post(client, "fetch")
    assert answer.status_code == 429 and 'id="wechat-menu-error"' in answer.content.decode()
    assert fake_wechat.count(GET) == 20


def test_a_followers_click_on_a_menu_button_opens_the_window_and_is_kept_on_the_visitor(
    client, fake_wechat, wechat_account
):
    openid = fake_wechat.add_follower()

    def clicked(key: str) -> str:
        return fw.message_xml(
            {
                "ToUserName": fake_wechat.account.original_id,
                "FromUserName": openid,
                "CreateTime": 1700000000 + len(key),
                "MsgType": "event",
                "Event": "CLICK",
                "EventKey": key,
            }
        )

    answer = deliver(client, fake_wechat, wechat_account, clicked("DESK"))
    assert answer.status_code == 200 and answer.content == b"success"
    follower = WechatFollower.objects.select_related("visitor").get(openid=openid)
    assert follower.visitor.extra[EXTRA_MENU_KEY] == "DESK" and follower.last_inbound_at is not None
    deliver(client, fake_wechat, wechat_account, clicked("OFFERS"))
    assert Visitor.objects.get(pk=follower.visitor_id).extra[EXTRA_MENU_KEY] == "OFFERS"
    assert not Message.objects.exists()  # a click is noted, not a message to answer
