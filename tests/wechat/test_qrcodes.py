"""Parametric QR codes: an agent binds their WeChat by scanning the code their console shows (single use, short
lived, never a chat visitor), unbinds it, and a visitor scanning an agent's permanent code is routed to that
agent; the API that serves them (codes and pictures from our origin, per agent and per tenant), driven through
the fake WeChat's signed callbacks."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import User
from accounts.permissions import ROLE_ENTERPRISE_ADMIN
from accounts.services import agent_create
from chat.frames import group_agent
from chat.models import Conversation, Message, Visitor
from chat.realtime.presence import AGENT, Presence, get_presence
from tests.conftest import AGENT_PASSWORD
from wechat import outbound, qrcodes
from wechat.models import WechatAccount, WechatAgentBinding, WechatFollower, WechatQrCode
from wechat.services import wechat_account_save

from . import fakeserver as fw
from .fakeserver import CUSTOM_SEND_PATH, FakeWechat, new_account
from .test_callback import deliver, text

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english_platform")]

BIND = "/api/v1/agent/wechat/bind-qrcode"
BINDING = "/api/v1/agent/wechat/binding"
ROUTE = "/api/v1/agent/wechat/route-qrcode"


def api_for(user: User) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def ok(answer: Any) -> None:
    assert answer.status_code == 200 and answer.content == b"success", answer.content


def bind_code(agent: User) -> WechatQrCode:
    return qrcodes.bind_qrcode_create(agent=agent)


def scan(client: Client, fake: FakeWechat, account: WechatAccount, openid: str, scene: str, **kw: Any) -> None:
    ok(deliver(client, fake, account, fw.scan_xml(to="gh_x", openid=openid, scene=scene, **kw)))


def follow(client: Client, fake: FakeWechat, account: WechatAccount, openid: str, scene: str, **kw: Any) -> None:
    ok(deliver(client, fake, account, fw.subscribe_xml(to="gh_x", openid=openid, scene=scene, **kw)))


def sent_texts(fake: FakeWechat, openid: str) -> list[str]:
    assert outbound.sender_idle(10)
    return [
        call.json["text"]["content"]
        for call in fake.calls(CUSTOM_SEND_PATH)
        if call.json and call.json.get("touser") == openid and call.json.get("msgtype") == "text"
    ]


def go_online(*agents: User) -> None:
    for agent in agents:
        async_to_sync(get_presence().join)(Presence(agent.enterprise_id or 0, AGENT, agent.pk, f"test.{agent.pk}"))


# --- binding --------------------------------------------------------------------------------------------


def test_an_agent_gets_a_short_lived_random_bind_code_and_its_picture_from_our_server(
    fake_wechat, wechat_account, agent
):
    answer = api_for(agent).post(BIND)
    assert answer.status_code == 201, answer.content
    body = answer.json()
    code = WechatQrCode.objects.get(pk=body["id"])
    assert code.kind == "bind" and code.agent == agent and code.scene.startswith(qrcodes.BIND_PREFIX)
    assert len(code.scene) >= 30 and str(agent.pk) not in code.scene.removeprefix(qrcodes.BIND_PREFIX)[:2]
    assert code.expires_at is not None
    assert timedelta(seconds=590) < code.expires_at - timezone.now() <= timedelta(seconds=600)
    [create] = fake_wechat.calls("/cgi-bin/qrcode/create")
    assert create.json["action_name"] == "QR_STR_SCENE" and create.json["expire_seconds"] == 600
    assert create.json["action_info"]["scene"]["scene_str"] == code.scene
    # The page shows our URL, never WeChat's: the picture is fetched by the server.
    assert body["image"] == f"/api/v1/agent/wechat/qrcodes/{code.pk}/image" and "weixin" not in body["image"]
    picture = api_for(agent).get(body["image"])
    assert picture.status_code == 200 and picture["Content-Type"] == "image/png"
    assert picture.content.startswith(b"\x89PNG") and picture["X-Content-Type-Options"] == "nosniff"
    api_for(agent).get(body["image"])
    assert fake_wechat.count("/cgi-bin/showqrcode") == 1  # cached while it lives


def test_a_new_bind_code_replaces_the_agents_older_one(fake_wechat, wechat_account, agent):
    first = bind_code(agent)
    second = bind_code(agent)
    assert list(WechatQrCode.objects.filter(kind="bind")) == [second] and first.scene != second.scene


def test_scanning_the_bind_code_binds_the_agent_tells_the_console_and_the_scanner(
    client, fake_wechat, wechat_account, agent, published, django_capture_on_commit_callbacks
):
    openid = fake_wechat.add_follower(nickname="Alice's phone")
    code = bind_code(agent)
    with django_capture_on_commit_callbacks(execute=True):
        scan(client, fake_wechat, wechat_account, openid, code.scene)
    binding = WechatAgentBinding.objects.get()
    assert (binding.agent, binding.openid, binding.account) == (agent, openid, wechat_account)
    assert binding.nickname == "Alice's phone" and binding.enterprise_id == agent.enterprise_id
    assert not WechatQrCode.objects.filter(pk=code.pk).exists()  # used up
    [(group, frame)] = [(g, f) for g, f in published if f["type"] == "wechat.binding"]
    assert group == group_agent(agent.pk) and frame["data"]["binding"]["nickname"] == "Alice's phone"
    assert openid not in str(frame)
    [said] = sent_texts(fake_wechat, openid)
    assert "now bound" in said and "Alice" in said
    status = api_for(agent).get(BINDING).json()
    assert status["available"] is True and status["binding"]["nickname"] == "Alice's phone"


@pytest.mark.parametrize("how", ["scan", "subscribe"])
def test_a_bind_scan_never_makes_the_agent_a_chat_visitor(
    client, fake_wechat, wechat_account, agent, how, django_capture_on_commit_callbacks
):
    openid = fake_wechat.add_follower()
    code = bind_code(agent)
    with django_capture_on_commit_callbacks(execute=True):
        (scan if how == "scan" else follow)(client, fake_wechat, wechat_account, openid, code.scene)
    assert WechatAgentBinding.objects.filter(agent=agent, openid=openid).exists()
    # No follower row, no visitor, no greeting, no conversation.
    assert not WechatFollower.objects.exists() and not Visitor.objects.exists()
    assert not Message.objects.exists() and not Conversation.objects.exists()
    assert all("Welcome" not in said and "欢迎" not in said for said in sent_texts(fake_wechat, openid))
    # Unfollowing later makes no visitor either, and ends the binding (WeChat sends nothing more there).
    ok(deliver(client, fake_wechat, wechat_account, fw.unsubscribe_xml(to="gh_x", openid=openid)))
    assert not WechatFollower.objects.exists() and not Visitor.objects.exists()
    assert not WechatAgentBinding.objects.exists()


def test_a_bind_code_binds_once_a_second_scanner_is_told_it_is_no_longer_valid(
    client, fake_wechat, wechat_account, agent, django_capture_on_commit_callbacks
):
    first, second = fake_wechat.add_follower(), fake_wechat.add_follower()
    code = bind_code(agent)
    for scanner in (first, second):
        with django_capture_on_commit_callbacks(execute=True):
            scan(client, fake_wechat, wechat_account, scanner, code.scene)
    assert list(WechatAgentBinding.objects.values_list("openid", flat=True)) == [first]
    [refusal] = sent_texts(fake_wechat, second)
    assert "expired or was already used" in refusal


def test_wechats_retry_of_the_bind_scan_is_not_answered_expired(
    client, fake_wechat, wechat_account, agent, django_capture_on_commit_callbacks
):
    openid = fake_wechat.add_follower()
    code = bind_code(agent)
    xml = fw.scan_xml(to="gh_x", openid=openid, scene=code.scene, create_time=int(time.time()))
    for _ in range(2):  # the same event under a new nonce, each callback its own commit
        with django_capture_on_commit_callbacks(execute=True):
            ok(deliver(client, fake_wechat, wechat_account, xml))
    [said] = sent_texts(fake_wechat, openid)
    assert "now bound" in said


def test_an_expired_bind_code_binds_nothing_and_says_so(
    client, fake_wechat, wechat_account, agent, django_capture_on_commit_callbacks
):
    openid = fake_wechat.add_follower()
    code = bind_code(agent)
    WechatQrCode.objects.filter(pk=code.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        scan(client, fake_wechat, wechat_account, openid, code.scene)
    assert not WechatAgentBinding.objects.exists()
    assert "expired" in sent_texts(fake_wechat, openid)[0]
    assert not Visitor.objects.exists()


@pytest.mark.parametrize(
    "scene", [qrcodes.BIND_PREFIX + "forged-guess-000000000000000", qrcodes.BIND_PREFIX, qrcodes.BIND_PREFIX + "x" * 60]
)
def test_a_forged_bind_scene_binds_nothing(client, fake_wechat, wechat_account, agent, scene):
    bind_code(agent)
    scan(client, fake_wechat, wechat_account, fake_wechat.add_follower(), scene)
    assert not WechatAgentBinding.objects.exists() and not Visitor.objects.exists()


def test_a_bind_code_of_another_account_binds_nothing_here(
    client, fake_wechat, wechat_account, agent, other_enterprise, other_agent, settings
):
    # Globex's account, with its own credentials on the same fake, and a bind code of Globex's agent.
    globex_boss = agent_create(
        enterprise=other_enterprise, username="gboss", password=AGENT_PASSWORD, role=ROLE_ENTERPRISE_ADMIN
    )
    known = fake_wechat.add_account(new_account())
    globex = wechat_account_save(
        actor=globex_boss,
        app_id=known.app_id,
        app_secret=known.app_secret,
        token=known.token,
        encoding_aes_key=known.encoding_aes_key,
        message_mode="plaintext",
        is_enabled=True,
    )
    theirs = bind_code(other_agent)
    assert theirs.account == globex
    # Replayed to Acme's callback (signed with Acme's token): Acme has no such scene.
    scan(client, fake_wechat, wechat_account, fake_wechat.add_follower(), theirs.scene)
    assert not WechatAgentBinding.objects.exists()
    assert WechatQrCode.objects.filter(pk=theirs.pk).exists()  # still Globex's to use


def test_an_openid_bound_to_another_agent_moves_and_that_agent_is_told(
    client, fake_wechat, wechat_account, agent, second_agent, published, django_capture_on_commit_callbacks
):
    openid = fake_wechat.add_follower()
    with django_capture_on_commit_callbacks(execute=True):
        scan(client, fake_wechat, wechat_account, openid, bind_code(agent).scene)
        scan(client, fake_wechat, wechat_account, openid, bind_code(second_agent).scene)
    assert list(WechatAgentBinding.objects.values_list("agent_id", "openid")) == [(second_agent.pk, openid)]
    told = [(g, f["data"]["binding"]) for g, f in published if f["type"] == "wechat.binding"]
    assert (group_agent(agent.pk), None) in told
    assert told[-1][0] == group_agent(second_agent.pk) and told[-1][1] is not None


def test_binding_again_replaces_the_agents_wechat(client, fake_wechat, wechat_account, agent):
    old, new = fake_wechat.add_follower(), fake_wechat.add_follower()
    scan(client, fake_wechat, wechat_account, old, bind_code(agent).scene)
    scan(client, fake_wechat, wechat_account, new, bind_code(agent).scene)
    assert list(WechatAgentBinding.objects.values_list("agent_id", "openid")) == [(agent.pk, new)]


def test_a_bind_code_of_an_agent_disabled_since_binds_nothing(client, fake_wechat, wechat_account, agent):
    code = bind_code(agent)
    User.objects.filter(pk=agent.pk).update(is_active=False)
    scan(client, fake_wechat, wechat_account, fake_wechat.add_follower(), code.scene)
    assert not WechatAgentBinding.objects.exists()


def test_the_agent_unbinds_from_the_console_and_their_sockets_are_told(
    client, fake_wechat, wechat_account, agent, second_agent, published, django_capture_on_commit_callbacks
):
    scan(client, fake_wechat, wechat_account, fake_wechat.add_follower(), bind_code(agent).scene)
    scan(client, fake_wechat, wechat_account, fake_wechat.add_follower(), bind_code(second_agent).scene)
    with django_capture_on_commit_callbacks(execute=True):
        answer = api_for(agent).delete(BINDING)
    assert answer.status_code == 200 and answer.json()["binding"] is None
    assert list(WechatAgentBinding.objects.values_list("agent_id", flat=True)) == [second_agent.pk]  # only theirs
    assert (group_agent(agent.pk), None) in [
        (g, f["data"]["binding"]) for g, f in published if f["type"] == "wechat.binding"
    ]
    assert api_for(agent).delete(BINDING).status_code == 200  # nothing bound: unchanged


def test_without_an_enabled_complete_account_no_code_is_made(fake_wechat, wechat_account, agent, other_agent):
    assert api_for(other_agent).post(BIND).status_code == 409  # Globex has no account
    assert api_for(other_agent).get(BINDING).json() == {"available": False, "binding": None}
    WechatAccount.objects.filter(pk=wechat_account.pk).update(is_enabled=False)
    refused = api_for(agent).post(BIND)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "wechat_unavailable"
    assert fake_wechat.count("/cgi-bin/qrcode/create") == 0


def test_wechat_refusing_or_away_is_a_clear_502_never_a_500(fake_wechat, wechat_account, agent):
    fake_wechat.fail_errcode(40053, "invalid action info", path="/cgi-bin/qrcode/create")
    refused = api_for(agent).post(BIND)
    assert refused.status_code == 502 and refused.json()["error"]["code"] == "wechat_failed"
    fake_wechat.fail_server_error(path="/cgi-bin/qrcode/create")
    assert api_for(agent).post(BIND).status_code == 502
    assert not WechatQrCode.objects.exists()


def test_asking_for_many_codes_at_once_is_rate_limited_per_agent(fake_wechat, wechat_account, agent, second_agent):
    limit, _window = qrcodes.QR_PER_AGENT
    answers = [api_for(agent).post(BIND).status_code for _ in range(limit + 2)]
    assert answers == [201] * limit + [429, 429]
    assert fake_wechat.count("/cgi-bin/qrcode/create") == limit
    assert api_for(second_agent).post(BIND).status_code == 201  # a colleague's own budget


def test_anonymous_callers_get_nothing(fake_wechat, wechat_account, agent):
    code = bind_code(agent)
    anonymous = APIClient()
    for method, path in [
        ("post", BIND),
        ("get", BINDING),
        ("delete", BINDING),
        ("get", ROUTE),
        ("get", f"/api/v1/agent/wechat/qrcodes/{code.pk}/image"),
        ("get", f"/api/v1/agent/wechat/agents/{agent.pk}/route-qrcode"),
    ]:
        assert getattr(anonymous, method)(path).status_code == 401, path
    assert fake_wechat.count("/cgi-bin/showqrcode") == 0


def test_a_bind_codes_picture_is_its_agents_alone(fake_wechat, wechat_account, agent, second_agent, other_agent):
    code = bind_code(agent)
    path = f"/api/v1/agent/wechat/qrcodes/{code.pk}/image"
    boss = agent_create(
        enterprise=agent.enterprise, username="boss2", password=AGENT_PASSWORD, role=ROLE_ENTERPRISE_ADMIN
    )
    for stranger in (second_agent, other_agent, boss):  # a colleague, another tenant, even an admin
        assert api_for(stranger).get(path).status_code == 404
    WechatQrCode.objects.filter(pk=code.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert api_for(agent).get(path).status_code == 404
    assert api_for(agent).get("/api/v1/agent/wechat/qrcodes/999999/image").status_code == 404


# --- routing --------------------------------------------------------------------------------------------


def test_an_agents_route_code_is_permanent_made_once_and_reused(fake_wechat, wechat_account, agent):
    first = api_for(agent).get(ROUTE)
    assert first.status_code == 200, first.content
    again = api_for(agent).get(ROUTE)
    assert again.json() == first.json() and first.json()["expires_at"] is None
    [create] = fake_wechat.calls("/cgi-bin/qrcode/create")
    assert create.json["action_name"] == "QR_LIMIT_STR_SCENE" and "expire_seconds" not in create.json
    code = WechatQrCode.objects.get()
    assert code.kind == "route" and code.scene.startswith(qrcodes.ROUTE_PREFIX) and code.agent == agent
    assert api_for(agent).get(first.json()["image"]).content.startswith(b"\x89PNG")


def test_an_admin_sees_a_colleagues_route_code_a_plain_agent_or_another_tenant_does_not(
    fake_wechat, wechat_account, wechat_boss, agent, second_agent, other_agent
):
    path = f"/api/v1/agent/wechat/agents/{agent.pk}/route-qrcode"
    shown = api_for(wechat_boss).get(path)
    assert shown.status_code == 200 and WechatQrCode.objects.get().agent == agent
    assert api_for(wechat_boss).get(shown.json()["image"]).status_code == 200
    assert api_for(second_agent).get(path).status_code == 403
    assert api_for(second_agent).get(shown.json()["image"]).status_code == 404
    assert api_for(other_agent).get(path).status_code in (403, 404)
    assert api_for(other_agent).get(shown.json()["image"]).status_code == 404
    assert api_for(wechat_boss).get(f"/api/v1/agent/wechat/agents/{other_agent.pk}/route-qrcode").status_code == 404
    assert api_for(agent).get(path).json()["id"] == shown.json()["id"]  # their own, the same code


@pytest.mark.parametrize("how", ["subscribe", "scan"])
def test_a_visitor_scanning_an_agents_route_code_is_routed_to_that_agent(
    client, fake_wechat, wechat_account, agent, second_agent, how
):
    go_online(agent, second_agent)
    code = qrcodes.route_qrcode_get_or_create(actor=second_agent, agent_id=second_agent.pk)
    openid = fake_wechat.add_follower()
    if how == "scan":  # an existing follower scans
        ok(deliver(client, fake_wechat, wechat_account, text(fake_wechat, openid, "hi")))
        Conversation.objects.all().delete()
    (scan if how == "scan" else follow)(client, fake_wechat, wechat_account, openid, code.scene)
    visitor = Visitor.objects.get()
    assert visitor.agent == second_agent
    ok(deliver(client, fake_wechat, wechat_account, text(fake_wechat, openid, "where is my order")))
    conversation = Conversation.objects.get(visitor=visitor)
    assert conversation.assignee == second_agent  # Alice (the least loaded, first) would have had it otherwise


def test_a_route_code_of_a_disabled_agent_is_ignored_and_routing_is_normal(
    client, fake_wechat, wechat_account, agent, second_agent
):
    go_online(agent)
    code = qrcodes.route_qrcode_get_or_create(actor=second_agent, agent_id=second_agent.pk)
    User.objects.filter(pk=second_agent.pk).update(is_active=False)
    openid = fake_wechat.add_follower()
    follow(client, fake_wechat, wechat_account, openid, code.scene)
    visitor = Visitor.objects.get()
    assert visitor.agent is None
    assert Conversation.objects.get(visitor=visitor).assignee == agent  # the greeting opened it, routed as usual


def test_a_route_code_of_another_enterprises_agent_is_ignored(client, fake_wechat, wechat_account, other_agent):
    # A row naming another tenant's agent (however it came to be) never makes them the preference.
    WechatQrCode.objects.create(
        enterprise=wechat_account.enterprise,
        account=wechat_account,
        agent=other_agent,
        kind="route",
        scene=qrcodes.ROUTE_PREFIX + "planted",
        ticket="t",
    )
    follow(client, fake_wechat, wechat_account, fake_wechat.add_follower(), qrcodes.ROUTE_PREFIX + "planted")
    assert Visitor.objects.get().agent is None


def test_an_operators_own_scene_is_only_recorded(client, fake_wechat, wechat_account, agent):
    follow(client, fake_wechat, wechat_account, fake_wechat.add_follower(), "shop-7")
    visitor = Visitor.objects.get()
    assert visitor.agent is None and visitor.extra["wechat_scene"] == "shop-7"
    assert not WechatAgentBinding.objects.exists()


def test_the_binding_frame_never_carries_the_openid(fake_wechat, wechat_account, agent):
    from wechat.frames import agent_binding_frame, binding_payload

    binding = WechatAgentBinding.objects.create(
        enterprise=agent.enterprise, account=wechat_account, agent=agent, openid="o-secret", nickname="n"
    )
    frame = agent_binding_frame(binding_payload(binding))
    assert frame["type"] == "wechat.binding"
    assert set(frame["data"]["binding"]) == {"nickname", "bound_at", "alerts_enabled"}
    assert agent_binding_frame(None) == {"type": "wechat.binding", "data": {"binding": None}}


def test_the_fake_wechat_refuses_scene_strings_wechat_would_refuse(fake_wechat, wechat_account):
    from wechat.client import WechatError, wechat_client

    client = wechat_client(wechat_account)
    for body in (
        {"action_name": "QR_LIMIT_STR_SCENE", "action_info": {"scene": {"scene_str": "x" * 65}}},
        {"action_name": "QR_STR_SCENE", "expire_seconds": 60, "action_info": {"scene": {}}},
        {"action_name": "QR_SCENE", "expire_seconds": 9_999_999, "action_info": {"scene": {"scene_id": 1}}},
    ):
        with pytest.raises(WechatError) as refused:
            client.qrcode.create(body)
        assert refused.value.errcode == 40053


# --- pages ----------------------------------------------------------------------------------------------


def test_the_console_offers_bind_wechat_from_our_own_script(fake_wechat, wechat_account, agent):
    page = api_for(agent).get("/console")
    html = page.content.decode()
    assert page.status_code == 200 and 'id="wechat-section"' in html and 'id="wechat-dialog"' in html
    assert re.search(r"/static/js/console/wechat(\.[0-9a-f]+)?\.js", html)
    assert "weixin.qq.com" not in html


def test_admins_list_agents_route_codes_and_make_one_a_plain_agent_cannot(
    fake_wechat, wechat_account, wechat_boss, agent, second_agent
):
    boss = Client(headers={"accept-language": "en"})
    boss.force_login(User.objects.get(pk=wechat_boss.pk))
    page = boss.get("/manage/wechat/qrcodes/")
    assert page.status_code == 200 and b"Make the QR code" in page.content
    assert boss.post("/manage/wechat/qrcodes/", {"agent_id": str(agent.pk)}).status_code == 302
    code = WechatQrCode.objects.get()
    assert (code.agent, code.kind) == (agent, "route")
    page = boss.get("/manage/wechat/qrcodes/")
    assert f"/api/v1/agent/wechat/qrcodes/{code.pk}/image".encode() in page.content
    assert b"weixin.qq.com" not in page.content
    assert boss.get(f"/api/v1/agent/wechat/qrcodes/{code.pk}/image").status_code == 200
    for junk in ("", "x", "9" * 30, str(second_agent.pk + 1000)):
        assert boss.post("/manage/wechat/qrcodes/", {"agent_id": junk}).status_code == 302
    assert WechatQrCode.objects.count() == 1
    plain = Client()
    plain.force_login(User.objects.get(pk=agent.pk))
    assert plain.get("/manage/wechat/qrcodes/").status_code != 200


@pytest.mark.django_db(transaction=True)
async def test_the_agents_open_console_learns_of_the_binding_at_once(fake_wechat, wechat_account, agent):
    from asgiref.sync import sync_to_async

    from tests.chat.test_consumers import jwt_for
    from tests.chat.wsutil import agent_socket, connect_ready, recv_type

    openid = fake_wechat.add_follower(nickname="手机")
    code = await sync_to_async(bind_code)(agent)
    console = agent_socket(jwt=jwt_for(agent))
    await connect_ready(console)
    xml = fw.scan_xml(to="gh_x", openid=openid, scene=code.scene)
    ok(await sync_to_async(deliver)(Client(), fake_wechat, wechat_account, xml))
    frame = await recv_type(console, "wechat.binding")
    assert frame["binding"]["nickname"] == "手机"
    await sync_to_async(qrcodes.binding_delete)(agent=agent)
    assert (await recv_type(console, "wechat.binding"))["binding"] is None
    await console.disconnect()
    assert await sync_to_async(outbound.sender_idle)(10)


def test_another_tenants_admin_never_sees_a_route_codes_picture(fake_wechat, wechat_account, agent, other_enterprise):
    code = qrcodes.route_qrcode_get_or_create(actor=agent, agent_id=agent.pk)
    globex_boss = agent_create(
        enterprise=other_enterprise, username="gboss2", password=AGENT_PASSWORD, role=ROLE_ENTERPRISE_ADMIN
    )
    assert api_for(globex_boss).get(f"/api/v1/agent/wechat/qrcodes/{code.pk}/image").status_code == 404
    assert api_for(globex_boss).get(f"/api/v1/agent/wechat/agents/{agent.pk}/route-qrcode").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_two_requests_at_once_make_one_permanent_code(fake_wechat, wechat_account, agent):
    import threading

    from django.db import connections

    fake_wechat.fail_slow(0.5, path="/cgi-bin/qrcode/create")  # the first is still waiting on WeChat
    results: list[int] = []

    def ask() -> None:
        try:
            results.append(qrcodes.route_qrcode_get_or_create(actor=agent, agent_id=agent.pk).pk)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(results) == 2 and len(set(results)) == 1
    assert WechatQrCode.objects.count() == 1 and fake_wechat.count("/cgi-bin/qrcode/create") == 1


def test_an_agent_who_is_also_a_follower_unfollowing_ends_the_binding_and_unfollows_the_visitor(
    client, fake_wechat, wechat_account, agent, published, django_capture_on_commit_callbacks
):
    openid = fake_wechat.add_follower()
    ok(deliver(client, fake_wechat, wechat_account, text(fake_wechat, openid, "a question of my own")))
    scan(client, fake_wechat, wechat_account, openid, bind_code(agent).scene)
    with django_capture_on_commit_callbacks(execute=True):
        ok(deliver(client, fake_wechat, wechat_account, fw.unsubscribe_xml(to="gh_x", openid=openid)))
    assert not WechatAgentBinding.objects.exists() and not WechatFollower.objects.get().subscribed
    assert (group_agent(agent.pk), None) in [
        (g, f["data"]["binding"]) for g, f in published if f["type"] == "wechat.binding"
    ]
