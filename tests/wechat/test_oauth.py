"""Web authorisation of the visitor page opened inside WeChat (wechat/oauth.py) against the fake WeChat: the page
becomes the follower's visitor, its earlier web visitor's history joins the follower's, and every refusal is a
clear page with nothing created."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.db import connections
from django.test import Client
from django.utils import timezone

from chat import hooks
from chat.frames import group_agents
from chat.models import Conversation, Message, Visitor
from chat.services import NewMessage, messages_create
from core.errors import ChatError
from tests.conftest import login_visitor
from wechat import oauth, outbound
from wechat.inbound import Inbound, callback_receive
from wechat.models import WechatAccount, WechatDelivery, WechatFollower

from .fakeserver import FakeWechat, text_xml

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("wechat_keys", "english_platform")]

WECHAT_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI Language/zh_CN"
)
PHONE_UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 Safari/604.1"


@pytest.fixture
def authorising(wechat_account: WechatAccount) -> WechatAccount:
    WechatAccount.objects.filter(pk=wechat_account.pk).update(oauth_enabled=True)
    wechat_account.refresh_from_db()
    return wechat_account


@pytest.fixture
def openid(fake_wechat: FakeWechat) -> str:
    """Who opens WeChat's authorize page: a follower of the account, whose nickname WeChat gives."""
    found = fake_wechat.add_follower(nickname="小明", headimgurl="https://thirdwx.qlogo.cn/mmopen/xm/132")
    fake_wechat.oauth_follower = found
    return found


def wechat_browser() -> Client:
    return Client(HTTP_USER_AGENT=WECHAT_UA)


def page(client: Client, enterprise: Any, **query: Any) -> Any:
    return client.get("/chatIndex", {"ent_id": enterprise.pk, "kefu_id": "kefu2", **query})


def to_wechat(client: Client, enterprise: Any, **query: Any) -> str:
    """Open the chat page in WeChat's browser: the authorize URL it ends at (through our start URL)."""
    opened = page(client, enterprise, **query)
    assert opened.status_code == 302, opened.status_code
    assert opened["Location"].startswith(f"/wechat/oauth/{enterprise.pk}/start?")
    started = client.get(opened["Location"])
    assert started.status_code == 302
    return str(started["Location"])


def through_wechat(authorize_url: str) -> str:
    """WeChat's authorize page, which sends the browser back at once: our callback's path and query."""
    answer = requests.get(authorize_url, allow_redirects=False, timeout=5)
    assert answer.status_code == 302, answer.text
    back = urlsplit(answer.headers["Location"])
    return f"{back.path}?{back.query}"


def signed_in(client: Client, enterprise: Any, **query: Any) -> dict[str, str]:
    """The whole trip; the chatIndex query it comes back with (its ticket among it)."""
    back = client.get(through_wechat(to_wechat(client, enterprise, **query)))
    assert back.status_code == 302, back.content
    landed = urlsplit(back["Location"])
    assert landed.path == "/chatIndex" and not landed.netloc
    return {name: values[0] for name, values in parse_qs(landed.query).items()}


def nothing_created(enterprise: Any) -> None:
    assert not WechatFollower.objects.exists()
    assert not Visitor.objects.filter(enterprise=enterprise).exists()


def history(visitor: Visitor) -> list[str]:
    """What the visitor and the agents said, in order (timeline lines left out)."""
    said = Message.objects.filter(visitor=visitor, sender__in=["visitor", "agent"]).order_by("pk")
    return list(said.values_list("content", flat=True))


def write(visitor: Visitor, sender: str, content: str, client_id: str, agent: Any = None) -> None:
    result = messages_create([NewMessage(visitor, sender, content, client_id, agent)])[0]
    assert not isinstance(result, Exception), result
    assert outbound.sender_idle(10), "the WeChat sender did not finish"  # no thread outlives its test


# --- when the page goes through WeChat ------------------------------------------------------------------


def test_inside_wechat_the_page_goes_to_wechats_authorize_page_with_userinfo_scope_and_a_state(
    enterprise, agent, authorising, fake_wechat, openid
):
    client = wechat_browser()
    authorize = urlsplit(to_wechat(client, enterprise, lang="en"))
    asked = {name: values[0] for name, values in parse_qs(authorize.query).items()}
    assert f"{authorize.scheme}://{authorize.netloc}/" == fake_wechat.open_base
    assert authorize.path == "/connect/oauth2/authorize"
    assert asked["appid"] == authorising.app_id and asked["scope"] == "snsapi_userinfo"
    assert asked["redirect_uri"] == f"http://testserver/wechat/oauth/{enterprise.pk}/callback"
    nonce, _dot, mac = asked["state"].partition(".")
    assert len(asked["state"]) <= 128 and nonce and len(mac) == 32
    cookie = client.cookies[oauth.COOKIE_PREFIX + nonce]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    nothing_created(enterprise)


@pytest.mark.parametrize("case", ["other browser", "oauth off", "account disabled", "with a ticket"])
def test_the_page_is_unchanged_outside_wechat_when_not_enabled_and_when_it_comes_back(
    enterprise, agent, authorising, openid, case
):
    client = Client(HTTP_USER_AGENT=PHONE_UA) if case == "other browser" else wechat_browser()
    if case == "oauth off":
        WechatAccount.objects.filter(pk=authorising.pk).update(oauth_enabled=False)
    if case == "account disabled":
        WechatAccount.objects.filter(pk=authorising.pk).update(is_enabled=False)
    query = {"ticket": "anything"} if case == "with a ticket" else {}
    opened = page(client, enterprise, **query)
    assert opened.status_code == 200 and b'id="vchat"' in opened.content


def test_outside_wechat_the_hook_is_not_even_asked(enterprise, agent, authorising, monkeypatch):
    asked: list[Any] = []
    hooks.visitor_page_opened.connect(asked.append)
    try:
        assert page(Client(HTTP_USER_AGENT=PHONE_UA), enterprise).status_code == 200
        assert asked == []
        page(wechat_browser(), enterprise)
        assert len(asked) == 1
    finally:
        hooks.visitor_page_opened.disconnect(asked.append)


@pytest.mark.parametrize("answer", ["https://evil.example/", "//evil.example/x", "evil", ""])
def test_a_redirect_a_receiver_answers_is_followed_only_to_our_own_path(enterprise, agent, answer):
    def receiver(_page: Any) -> str:
        return answer

    hooks.visitor_page_opened.connect(receiver)
    try:
        assert page(wechat_browser(), enterprise).status_code == 200
    finally:
        hooks.visitor_page_opened.disconnect(receiver)


def test_starts_are_rate_limited_per_address(enterprise, agent, authorising, settings):
    settings.GOFLY = {**settings.GOFLY, "RATE_LOGIN_PER_IP": (2, 60)}
    client = wechat_browser()
    answers = [client.get(f"/wechat/oauth/{enterprise.pk}/start").status_code for _ in range(3)]
    assert answers == [302, 302, 429]


# --- the follower ---------------------------------------------------------------------------------------


def test_the_follower_comes_back_to_the_chat_page_with_its_query_and_logs_in_as_its_visitor(
    enterprise, agent, authorising, fake_wechat, openid
):
    back = signed_in(wechat_browser(), enterprise, lang="en", refer="https://shop.example.com/a")
    assert back["ent_id"] == str(enterprise.pk) and back["kefu_id"] == "kefu2" and back["lang"] == "en"
    assert back["refer"] == "https://shop.example.com/a"
    follower = WechatFollower.objects.select_related("visitor").get(openid=openid)
    assert follower.oauth_scope == "snsapi_userinfo" and follower.oauth_at is not None
    assert follower.nickname == "小明" and follower.visitor.name == "小明"
    assert follower.visitor.avatar == "https://thirdwx.qlogo.cn/mmopen/xm/132"
    assert follower.visitor.channel == "wechat"
    login = login_visitor(enterprise, agent, ticket=back["ticket"], user_agent=WECHAT_UA)
    assert login.visitor.pk == follower.visitor_id and not login.created
    # The page's own config carries the ticket to its login.
    shown = page(wechat_browser(), enterprise, ticket=back["ticket"])
    assert back["ticket"] in shown.content.decode()


def test_the_ticket_rides_the_http_login_and_its_answer_is_the_followers_visitor(
    enterprise, agent, authorising, fake_wechat, openid
):
    client = wechat_browser()
    back = signed_in(client, enterprise)
    answer = client.post(
        "/api/v1/visitor/login",
        {"ent_id": enterprise.pk, "kefu_id": "kefu2", "ticket": back["ticket"]},
        content_type="application/json",
    )
    assert answer.status_code == 200, answer.content
    follower = WechatFollower.objects.get(openid=openid)
    assert answer.json()["visitor"]["visitor_id"] == follower.visitor.visitor_id


def test_when_wechat_refuses_the_user_info_the_openid_alone_makes_the_follower(
    enterprise, agent, authorising, fake_wechat, openid
):
    fake_wechat.fail_errcode(48001, "api unauthorized", path="/sns/userinfo")
    back = signed_in(wechat_browser(), enterprise)
    follower = WechatFollower.objects.get(openid=openid)
    assert follower.oauth_scope == "snsapi_base"
    assert login_visitor(enterprise, agent, ticket=back["ticket"]).visitor.pk == follower.visitor_id


def test_a_user_who_declines_the_userinfo_page_is_asked_again_with_the_base_scope(
    enterprise, agent, authorising, fake_wechat, openid
):
    client = wechat_browser()
    authorize = to_wechat(client, enterprise)
    state = parse_qs(urlsplit(authorize).query)["state"][0]
    declined = client.get(f"/wechat/oauth/{enterprise.pk}/callback", {"state": state})  # no code
    assert declined.status_code == 302
    again = parse_qs(urlsplit(declined["Location"]).query)
    assert again["scope"] == ["snsapi_base"] and again["state"][0] != state
    nothing_created(enterprise)
    back = client.get(through_wechat(declined["Location"]))
    assert back.status_code == 302 and "ticket=" in back["Location"]
    assert WechatFollower.objects.get(openid=openid).oauth_scope == "snsapi_base"
    # Declining the base scope too is the end: a page saying so.
    state = parse_qs(urlsplit(to_wechat(client, enterprise)).query)["state"][0]
    base = client.get(f"/wechat/oauth/{enterprise.pk}/callback", {"state": state})
    assert base.status_code == 302
    refused = client.get(
        f"/wechat/oauth/{enterprise.pk}/callback", {"state": parse_qs(urlsplit(base["Location"]).query)["state"][0]}
    )
    assert refused.status_code == 400 and b"did not confirm who you are" in refused.content


# --- the state ------------------------------------------------------------------------------------------


def _callback_of(client: Client, enterprise: Any) -> tuple[str, dict[str, str]]:
    back = urlsplit(through_wechat(to_wechat(client, enterprise)))
    return back.path, {name: values[0] for name, values in parse_qs(back.query).items()}


@pytest.mark.parametrize("case", ["forged", "tampered", "other browser", "replayed", "expired", "other enterprise"])
def test_a_bad_state_is_a_clear_page_and_creates_nothing(
    enterprise, other_enterprise, agent, authorising, fake_wechat, openid, monkeypatch, case
):
    client = wechat_browser()
    path, query = _callback_of(client, enterprise)
    if case == "forged":
        query["state"] = "AAAAAAAAAAAAAAAA." + "0" * 32
    elif case == "tampered":
        query["state"] = query["state"][:-1] + ("0" if query["state"][-1] != "0" else "1")
    elif case == "other browser":
        client = wechat_browser()
    elif case == "replayed":
        first = client.get(path, query)
        assert first.status_code == 302
        WechatFollower.objects.all().delete()
        Visitor.objects.all().delete()
        query["code"] = fake_wechat.oauth_code(openid)
    elif case == "expired":
        monkeypatch.setattr(oauth, "STATE_MAX_AGE", -1)
    elif case == "other enterprise":
        path = path.replace(f"/{enterprise.pk}/", f"/{other_enterprise.pk}/")
        account = WechatAccount.objects.get(pk=authorising.pk)
        WechatAccount.objects.create(
            enterprise=other_enterprise,
            app_id=account.app_id,
            app_secret_encrypted=account.app_secret_encrypted,
            token_encrypted=account.token_encrypted,
            encoding_aes_key_encrypted=account.encoding_aes_key_encrypted,
            is_enabled=True,
            oauth_enabled=True,
        )
    refused = client.get(path, query)
    assert refused.status_code == 400
    assert b"This sign-in has expired or was not started here" in refused.content
    nothing_created(enterprise)
    nothing_created(other_enterprise)


@pytest.mark.parametrize(
    "query",
    [{}, {"state": ""}, {"state": "x" * 5000, "code": "c"}, {"state": "..", "code": "c"}, {"code": "\x00"}],
)
def test_bad_callback_input_is_a_clear_page_never_a_crash(enterprise, agent, authorising, query):
    answer = Client().get(f"/wechat/oauth/{enterprise.pk}/callback", query)
    assert answer.status_code == 400
    nothing_created(enterprise)


@pytest.mark.parametrize("path", ["/wechat/oauth/99999/start", "/wechat/oauth/99999999999999999999999/callback"])
def test_an_unknown_enterprise_is_a_clear_page(db, path):
    assert Client().get(path).status_code == 404


def test_the_start_for_an_enterprise_without_authorisation_is_refused(enterprise, agent, wechat_account):
    assert Client().get(f"/wechat/oauth/{enterprise.pk}/start").status_code == 404


def test_a_code_wechat_refuses_is_a_clear_page_and_creates_nothing(enterprise, agent, authorising, fake_wechat, openid):
    client = wechat_browser()
    path, query = _callback_of(client, enterprise)
    query["code"] = "not-a-code"
    refused = client.get(path, query)
    assert refused.status_code == 400 and b"did not confirm who you are" in refused.content
    nothing_created(enterprise)


def test_two_tabs_finishing_at_once_make_one_follower_and_one_visitor(
    enterprise, agent, authorising, fake_wechat, openid
):
    client = wechat_browser()
    callbacks = [_callback_of(client, enterprise) for _tab in range(2)]
    answers: list[Any] = []
    barrier = threading.Barrier(2)

    def tab(path: str, query: dict[str, str]) -> None:
        try:
            barrier.wait()
            answers.append(client.get(path, query))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=tab, args=callback) for callback in callbacks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert sorted(answer.status_code for answer in answers) == [302, 302]
    assert WechatFollower.objects.filter(openid=openid).count() == 1
    assert Visitor.objects.filter(enterprise=enterprise).count() == 1


# --- the ticket -----------------------------------------------------------------------------------------


def test_the_ticket_is_single_use_short_lived_and_of_its_enterprise(
    enterprise, other_enterprise, agent, other_agent, authorising, fake_wechat, openid, monkeypatch
):
    follower_visitor = lambda: WechatFollower.objects.get(openid=openid).visitor_id  # noqa: E731
    ticket = signed_in(wechat_browser(), enterprise)["ticket"]
    assert login_visitor(other_enterprise, other_agent, ticket=ticket).created  # another enterprise's: ignored
    assert login_visitor(enterprise, agent, ticket=ticket).visitor.pk == follower_visitor()
    again = login_visitor(enterprise, agent, ticket=ticket)  # used up
    assert again.created and again.visitor.pk != follower_visitor()
    late = signed_in(wechat_browser(), enterprise)["ticket"]
    monkeypatch.setattr("chat.identity.TICKET_MAX_AGE", -1)
    assert login_visitor(enterprise, agent, ticket=late).created
    monkeypatch.undo()
    assert login_visitor(enterprise, agent, ticket=late + "x").created  # forged


# --- one visitor, one history ---------------------------------------------------------------------------


def test_the_web_visitor_of_the_browser_joins_the_follower_with_its_history_in_order(
    enterprise, agent, authorising, fake_wechat, openid, published
):
    web = login_visitor(enterprise, agent)
    write(web.visitor, "visitor", "hi from the web", "w1")
    write(web.visitor, "agent", "hello web", "a1", agent)
    back = signed_in(wechat_browser(), enterprise)
    follower = WechatFollower.objects.select_related("visitor").get(openid=openid)
    write(follower.visitor, "agent", "to the follower", "a2", agent)
    login = login_visitor(enterprise, agent, ticket=back["ticket"], token=web.token)
    assert login.visitor.pk == follower.visitor_id
    assert history(follower.visitor) == ["hi from the web", "hello web", "to the follower"]
    assert not Visitor.objects.filter(pk=web.visitor.pk).exists()  # retired: its id and token name nobody
    cleared = {"type": "visitor.cleared", "data": {"visitor_id": web.visitor.visitor_id}}
    assert (group_agents(enterprise.pk), cleared) in published  # the consoles drop it
    assert Conversation.objects.filter(visitor=follower.visitor).count() == 2
    assert Conversation.objects.filter(open_visitor=follower.visitor).count() == 1
    stale = login_visitor(enterprise, agent, token=web.token)
    assert stale.created and stale.visitor.pk != follower.visitor_id


def test_a_follower_who_wrote_to_the_account_then_opens_the_page_sees_one_history(
    enterprise, agent, authorising, fake_wechat, openid
):
    from wechatpy import parse_message

    xml = text_xml(to="gh_account", openid=openid, content="hello from WeChat")
    callback_receive(account=authorising, inbound=Inbound(parse_message(xml), {"FromUserName": openid, "MsgId": "1"}))
    web = login_visitor(enterprise, agent)
    write(web.visitor, "visitor", "and from the web", "w1")
    back = signed_in(wechat_browser(), enterprise)
    login = login_visitor(enterprise, agent, ticket=back["ticket"], token=web.token)
    assert WechatFollower.objects.count() == 1
    assert login.visitor.pk == WechatFollower.objects.get().visitor_id
    assert history(login.visitor) == ["hello from WeChat", "and from the web"]
    assert Visitor.objects.filter(enterprise=enterprise).count() == 1


def test_a_token_of_another_enterprises_visitor_is_ignored(
    enterprise, other_enterprise, agent, other_agent, authorising, fake_wechat, openid
):
    theirs = login_visitor(other_enterprise, other_agent)
    write(theirs.visitor, "visitor", "not yours", "o1")
    back = signed_in(wechat_browser(), enterprise)
    login_visitor(enterprise, agent, ticket=back["ticket"], token=theirs.token)
    assert history(theirs.visitor) == ["not yours"]
    assert Visitor.objects.filter(pk=theirs.visitor.pk).exists()


def test_the_merge_is_tenant_checked_idempotent_and_leaves_channel_visitors_alone(
    enterprise, other_enterprise, agent, other_agent, authorising, fake_wechat, openid
):
    from chat.services import visitor_merge

    signed_in(wechat_browser(), enterprise)
    into = WechatFollower.objects.get(openid=openid).visitor
    theirs = login_visitor(other_enterprise, other_agent).visitor
    with pytest.raises(ChatError):
        visitor_merge(source=theirs, into=into)
    web = login_visitor(enterprise, agent).visitor
    write(web, "visitor", "one", "w1")
    write(into, "visitor", "two", "f1")  # both have a live conversation: the web one is closed
    assert visitor_merge(source=web, into=into) is True
    assert visitor_merge(source=web, into=into) is False  # a retry
    assert history(into) == ["one", "two"]
    assert Conversation.objects.filter(visitor=into, status="closed").count() == 1
    assert visitor_merge(source=into, into=login_visitor(enterprise, agent).visitor) is False  # a follower stays


def test_a_blocked_web_visitor_is_not_laundered_by_authorising(enterprise, agent, authorising, fake_wechat, openid):
    from chat.models import VisitorBlock

    web = login_visitor(enterprise, agent)
    VisitorBlock.objects.create(enterprise=enterprise, visitor=web.visitor, reason="spam")
    back = signed_in(wechat_browser(), enterprise)
    with pytest.raises(ChatError) as refused:
        login_visitor(enterprise, agent, ticket=back["ticket"], token=web.token)
    assert refused.value.code == "blacklisted"
    assert Visitor.objects.filter(pk=web.visitor.pk).exists()


# --- replies --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wrote", "delivered"),
    [(None, False), (timedelta(hours=49), False), (timedelta(hours=1), True)],
    ids=["never wrote", "wrote 49 h ago", "wrote an hour ago"],
)
def test_a_follower_who_came_through_the_page_gets_a_wechat_delivery_only_inside_the_window(
    enterprise, agent, authorising, fake_wechat, openid, wrote, delivered
):
    signed_in(wechat_browser(), enterprise)
    follower = WechatFollower.objects.select_related("visitor").get(openid=openid)
    last = None if wrote is None else timezone.now() - wrote
    WechatFollower.objects.filter(pk=follower.pk).update(last_inbound_at=last)
    write(follower.visitor, "agent", "a reply", "a1", agent)
    assert WechatDelivery.objects.filter(follower=follower).exists() is delivered


# --- the setting ----------------------------------------------------------------------------------------


def test_an_admin_turns_web_authorisation_on_and_off_on_the_wechat_page(enterprise, agent, wechat_boss, fake_wechat):
    from .test_settings_page import PAGE, form
    from .test_settings_page import signed_in as admin

    client = admin(wechat_boss)
    assert "Web authorisation" in client.get(PAGE).content.decode()
    assert client.post(PAGE, form(fake_wechat, oauth_enabled="on")).status_code == 302
    assert WechatAccount.objects.get(enterprise=enterprise).oauth_enabled
    assert page(wechat_browser(), enterprise).status_code == 302
    assert client.post(PAGE, form(fake_wechat)).status_code == 302
    assert not WechatAccount.objects.get(enterprise=enterprise).oauth_enabled
    assert page(wechat_browser(), enterprise).status_code == 200
