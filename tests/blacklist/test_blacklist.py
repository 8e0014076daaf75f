"""Blacklists through their services and the agent API: visitors and addresses (IPv4, IPv6, CIDR), reasons,
expiries, unblocking, permissions and other enterprises' refusals; refused at login and on visitor HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import User
from accounts.services import agent_create, roles_ensure
from blacklist.selectors import blacklist_entries
from blacklist.services import blacklist_remove, ip_block, visitor_block
from chat import access, frames
from chat.models import Conversation, Message, VisitorBlock
from chat.realtime import broadcast
from chat.realtime.presence import AGENT, Presence, get_presence
from chat.services import message_create
from core.errors import ChatError
from enterprises.models import IPBlacklist, ip_key
from tests.conftest import AGENT_PASSWORD, login_visitor

pytestmark = pytest.mark.django_db


@pytest.fixture
def events() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Every (group, channel-layer event) sent from here on."""
    sent: list[tuple[str, dict[str, Any]]] = []

    async def record(layer: Any, items: list[tuple[str, dict[str, Any]]]) -> None:
        sent.extend(items)

    with mock.patch.object(broadcast, "group_send_many", record):
        yield sent


def agent_client(user: User) -> APIClient:
    client = APIClient()
    response = client.post("/api/v1/auth/token", {"username": user.username, "password": AGENT_PASSWORD}, format="json")
    assert response.status_code == 200
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
    return client


def visitor_client(token: str, ip: str = "203.0.113.7") -> APIClient:
    client = APIClient(REMOTE_ADDR=ip)
    client.credentials(HTTP_AUTHORIZATION=f"Visitor {token}")
    return client


def without_block(user: User) -> User:
    perm = Permission.objects.get(codename="block_visitors")
    for group in user.groups.all():
        group.permissions.remove(perm)
    return User.objects.get(pk=user.pk)  # a fresh object: permissions are cached on the old one


def refused_login(enterprise: Any, agent: Any, **kw: Any) -> ChatError:
    with pytest.raises(ChatError) as err:
        login_visitor(enterprise, agent, **kw)
    return err.value


# --- visitor blocks ------------------------------------------------------------------------------


def test_a_blocked_visitor_cannot_log_in_again_with_their_token(transactional_db, enterprise, agent, events):
    result = login_visitor(enterprise, agent)
    entry = visitor_block(agent=agent, visitor_id=result.visitor.visitor_id, reason="spam", until="1d")
    assert (entry["kind"], entry["id"], entry["reason"], entry["created_by"]) == (
        "visitor",
        result.visitor.visitor_id,
        "spam",
        "kefu2",
    )
    assert events == [(frames.group_visitor(result.visitor.pk), frames.visitor_blocked_event())]
    err = refused_login(enterprise, agent, token=result.token)
    assert (err.code, err.status) == ("blacklisted", 403)


def test_the_block_event_is_sent_only_after_the_commit(enterprise, agent, events):
    # `db` (not transactional): the test's transaction never commits, so nothing may be sent.
    result = login_visitor(enterprise, agent)
    visitor_block(agent=agent, visitor_id=result.visitor.visitor_id)
    assert events == []


def test_an_expired_visitor_block_lets_the_visitor_in_without_anyone_lifting_it(enterprise, agent):
    result = login_visitor(enterprise, agent)
    visitor_block(agent=agent, visitor_id=result.visitor.visitor_id, until="1h")
    assert refused_login(enterprise, agent, token=result.token).code == "blacklisted"
    VisitorBlock.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert login_visitor(enterprise, agent, token=result.token).visitor.pk == result.visitor.pk
    assert blacklist_entries(enterprise_id=enterprise.pk) == []


def test_unblocking_a_visitor_lets_them_in_again(enterprise, agent):
    result = login_visitor(enterprise, agent)
    visitor_block(agent=agent, visitor_id=result.visitor.visitor_id)
    blacklist_remove(agent=agent, kind="visitor", entry_id=result.visitor.visitor_id)
    assert login_visitor(enterprise, agent, token=result.token).visitor.pk == result.visitor.pk
    with pytest.raises(ChatError) as err:  # nothing left to lift
        blacklist_remove(agent=agent, kind="visitor", entry_id=result.visitor.visitor_id)
    assert err.value.status == 404


def test_blocking_again_replaces_the_reason_and_the_expiry(enterprise, agent):
    result = login_visitor(enterprise, agent)
    visitor_block(agent=agent, visitor_id=result.visitor.visitor_id, reason="one", until="1h")
    entry = visitor_block(agent=agent, visitor_id=result.visitor.visitor_id, reason="two", until="forever")
    assert (entry["reason"], entry["expires_at"]) == ("two", None)
    assert VisitorBlock.objects.count() == 1


@pytest.mark.parametrize(
    ("until", "hours"), [("1h", 1), ("1d", 24), ("7d", 168), ("30d", 720), ("forever", None), (None, None)]
)
def test_each_duration_of_the_dialog_sets_its_expiry(enterprise, agent, until, hours):
    result = login_visitor(enterprise, agent)
    visitor_block(agent=agent, visitor_id=result.visitor.visitor_id, until=until)
    expires_at = VisitorBlock.objects.get().expires_at
    if hours is None:
        assert expires_at is None
    else:
        assert expires_at is not None
        assert abs((expires_at - timezone.now()) - timedelta(hours=hours)) < timedelta(minutes=1)


def test_any_future_datetime_is_an_expiry_and_a_past_one_or_garbage_is_refused(enterprise, agent):
    result = login_visitor(enterprise, agent)
    later = (timezone.now() + timedelta(days=3)).isoformat()
    visitor_block(agent=agent, visitor_id=result.visitor.visitor_id, until=later)
    for bad in ["2001-01-01T00:00:00Z", "tomorrow", 5, ["1h"], "x" * 100]:
        with pytest.raises(ChatError) as err:
            visitor_block(agent=agent, visitor_id=result.visitor.visitor_id, until=bad)
        assert err.value.code == "invalid"
    for bad_reason in ["r" * 201, 7, {"a": 1}]:
        with pytest.raises(ChatError) as err:
            visitor_block(agent=agent, visitor_id=result.visitor.visitor_id, reason=bad_reason)
        assert err.value.code == "invalid"


def test_another_enterprises_visitor_cannot_be_blocked_or_unblocked(enterprise, agent, other_agent, other_enterprise):
    ours = login_visitor(enterprise, agent)
    theirs = login_visitor(other_enterprise, None)
    for visitor_id in [theirs.visitor.visitor_id, "nope", 12, None, "x" * 500]:
        with pytest.raises(ChatError) as err:
            visitor_block(agent=agent, visitor_id=visitor_id)
        assert err.value.status == 404
    visitor_block(agent=agent, visitor_id=ours.visitor.visitor_id)
    with pytest.raises(ChatError) as err:
        blacklist_remove(agent=other_agent, kind="visitor", entry_id=ours.visitor.visitor_id)
    assert err.value.status == 404
    entry = ip_block(agent=agent, network="7.7.7.7")
    with pytest.raises(ChatError) as err:
        blacklist_remove(agent=other_agent, kind="ip", entry_id=entry["id"])
    assert err.value.status == 404
    assert blacklist_entries(enterprise_id=other_enterprise.pk) == []
    assert len(blacklist_entries(enterprise_id=enterprise.pk)) == 2


def test_blocking_needs_the_block_permission(enterprise, agent):
    result = login_visitor(enterprise, agent)
    entry = ip_block(agent=agent, network="7.7.7.7")
    bare = without_block(agent)
    calls = [
        lambda: visitor_block(agent=bare, visitor_id=result.visitor.visitor_id),
        lambda: ip_block(agent=bare, network="8.8.8.8"),
        lambda: blacklist_remove(agent=bare, kind="ip", entry_id=entry["id"]),
    ]
    for call in calls:
        with pytest.raises(ChatError) as err:
            call()
        assert (err.value.code, err.value.status) == ("forbidden", 403)
    assert not VisitorBlock.objects.exists() and IPBlacklist.objects.count() == 1


# --- address blocks ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("what", "network", "inside", "outside"),
    [
        ("ip", "203.0.113.7", "203.0.113.7", "203.0.113.8"),
        ("network", "203.0.113.0/24", "203.0.113.200", "203.0.114.1"),
    ],
)
def test_a_visitors_ip_or_their_24_network_is_blocked(
    transactional_db, enterprise, agent, events, what, network, inside, outside
):
    result = login_visitor(enterprise, agent, ip="203.0.113.7")
    entry = visitor_block(agent=agent, visitor_id=result.visitor.visitor_id, what=what, reason="abuse")
    assert (entry["kind"], entry["what"]) == ("ip", network)
    first, last = ip_key(network.split("/")[0]), ip_key(inside if what == "ip" else "203.0.113.255")
    assert events == [(frames.group_visitors(enterprise.pk), frames.visitor_blocked_event(first, last))]
    assert refused_login(enterprise, agent, ip=inside).code == "blacklisted"
    assert login_visitor(enterprise, agent, ip=outside).created


@pytest.mark.parametrize(
    ("network", "inside", "outside"),
    [
        ("2001:db8::/32", "2001:db8:1::5", "2001:db9::1"),
        ("2001:db8::1", "2001:db8::1", "2001:db8::2"),
        ("198.51.100.0/25", "::ffff:198.51.100.9", "198.51.100.200"),
    ],
)
def test_an_address_or_a_cidr_network_is_blocked_in_ipv4_and_ipv6(enterprise, agent, network, inside, outside):
    ip_block(agent=agent, network=network, reason="bots")
    assert refused_login(enterprise, agent, ip=inside).code == "blacklisted"
    assert login_visitor(enterprise, agent, ip=outside).created


def test_an_ipv6_visitors_network_is_their_64(enterprise, agent):
    result = login_visitor(enterprise, agent, ip="2001:db8:aa:bb:1:2:3:4")
    entry = visitor_block(agent=agent, visitor_id=result.visitor.visitor_id, what="network")
    assert entry["what"] == "2001:db8:aa:bb::/64"


def test_an_expired_address_block_no_longer_refuses(enterprise, agent):
    ip_block(agent=agent, network="203.0.113.0/24", until="1h")
    assert refused_login(enterprise, agent).code == "blacklisted"
    IPBlacklist.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert login_visitor(enterprise, agent).created


def test_a_bad_address_is_refused_clearly(enterprise, agent):
    for bad in ["7.7.7.777", "", None, 7, "x" * 60, "2001:db8::/129", "\udcff"]:
        with pytest.raises(ChatError) as err:
            ip_block(agent=agent, network=bad)
        assert err.value.code == "invalid"
    with pytest.raises(ChatError) as err:
        visitor_block(agent=agent, visitor_id=login_visitor(enterprise, agent).visitor.visitor_id, what="planet")
    assert err.value.code == "invalid"


def test_another_enterprises_address_block_does_not_refuse_ours(enterprise, agent, other_agent):
    ip_block(agent=other_agent, network="203.0.113.7")
    assert login_visitor(enterprise, agent).created


# --- visitor HTTP endpoints ----------------------------------------------------------------------


def test_visitor_http_endpoints_refuse_a_blocked_visitor_and_a_blocked_address(enterprise, agent):
    result = login_visitor(enterprise, agent)
    client = visitor_client(result.token)
    assert client.get("/api/v1/visitor/messages").status_code == 200
    visitor_block(agent=agent, visitor_id=result.visitor.visitor_id)
    for response in [
        client.get("/api/v1/visitor/messages"),
        client.post("/api/v1/visitor/messages", {"content": "hi"}, format="json"),
        client.post("/api/v1/visitor/token"),
    ]:
        assert (response.status_code, response.json()["error"]["code"]) == (403, "blacklisted")
    blacklist_remove(agent=agent, kind="visitor", entry_id=result.visitor.visitor_id)
    assert client.get("/api/v1/visitor/messages").status_code == 200
    ip_block(agent=agent, network="203.0.113.0/24")
    assert client.get("/api/v1/visitor/messages").status_code == 403
    assert visitor_client(result.token, ip="192.0.2.1").get("/api/v1/visitor/messages").status_code == 200


def test_the_visitor_http_check_adds_no_query(enterprise, agent):
    result = login_visitor(enterprise, agent)
    client = visitor_client(result.token)
    client.get("/api/v1/visitor/conversation")
    with CaptureQueriesContext(connection) as plain:
        client.get("/api/v1/visitor/conversation")
    ip_block(agent=agent, network="10.0.0.0/16")
    visitor_block(agent=agent, visitor_id=login_visitor(enterprise, agent).visitor.visitor_id)
    with CaptureQueriesContext(connection) as blocked_elsewhere:
        assert client.get("/api/v1/visitor/conversation").status_code == 200
    assert len(blocked_elsewhere) == len(plain)
    assert not any("visitorblock" in q["sql"].lower() and "join" not in q["sql"].lower() for q in plain)


# --- agent API -----------------------------------------------------------------------------------


def test_the_api_blocks_lists_and_unblocks(enterprise, agent):
    result = login_visitor(enterprise, agent)
    client = agent_client(agent)
    response = client.post(
        "/api/v1/agent/blacklist",
        {"visitor_id": result.visitor.visitor_id, "what": "visitor", "reason": "rude", "until": "7d"},
        format="json",
    )
    assert response.status_code == 201 and response.json()["kind"] == "visitor"
    response = client.post("/api/v1/agent/blacklist", {"network": "2001:db8::/48", "reason": "bots"}, format="json")
    assert response.status_code == 201
    ip_id = response.json()["id"]
    details = client.get(f"/api/v1/agent/visitors/{result.visitor.visitor_id}").json()
    assert details["blocked"]["reason"] == "rude" and details["blocked"]["expires_at"]

    with CaptureQueriesContext(connection) as queries:
        listed = client.get("/api/v1/agent/blacklist")
    assert listed.status_code == 200
    entries = listed.json()["entries"]
    assert [(e["kind"], e["reason"], e["created_by"]) for e in entries] == [
        ("visitor", "rude", "kefu2"),
        ("ip", "bots", "kefu2"),
    ]
    list_queries = [
        q for q in queries.captured_queries if "blacklist" in q["sql"].lower() or "visitorblock" in q["sql"].lower()
    ]
    assert len(list_queries) == 2

    assert client.delete(f"/api/v1/agent/blacklist/ip/{ip_id}").status_code == 204
    assert client.delete(f"/api/v1/agent/blacklist/visitor/{result.visitor.visitor_id}").status_code == 204
    assert client.get("/api/v1/agent/blacklist").json()["entries"] == []
    assert client.get(f"/api/v1/agent/visitors/{result.visitor.visitor_id}").json()["blocked"] is None


def test_the_api_answers_bad_input_and_strangers_clearly(enterprise, agent, other_agent):
    result = login_visitor(enterprise, agent)
    client = agent_client(agent)
    for body, status in [
        ({"network": "nope"}, 400),
        ({"network": "7.7.7.7", "until": "yesterday"}, 400),
        ({"visitor_id": result.visitor.visitor_id, "what": "moon"}, 400),
        ({"visitor_id": "not-a-visitor"}, 404),
        ([1, 2], 400),
    ]:
        response = client.post("/api/v1/agent/blacklist", body, format="json")
        assert response.status_code == status, body
    assert client.delete("/api/v1/agent/blacklist/ip/99999").status_code == 404
    assert client.delete("/api/v1/agent/blacklist/ip/abc").status_code == 404
    assert client.delete("/api/v1/agent/blacklist/planet/1").status_code == 404
    assert APIClient().get("/api/v1/agent/blacklist").status_code in (401, 403)
    entry = client.post("/api/v1/agent/blacklist", {"network": "7.7.7.7"}, format="json").json()
    stranger = agent_client(other_agent)
    assert stranger.delete(f"/api/v1/agent/blacklist/ip/{entry['id']}").status_code == 404
    assert stranger.get("/api/v1/agent/blacklist").json()["entries"] == []


def test_the_api_refuses_an_agent_without_the_block_permission(enterprise, agent):
    bare = without_block(agent)
    client = agent_client(bare)
    assert client.get("/api/v1/agent/blacklist").status_code == 403
    assert client.post("/api/v1/agent/blacklist", {"network": "7.7.7.7"}, format="json").status_code == 403


def test_blocked_until_is_what_the_summary_says(enterprise, agent):
    result = login_visitor(enterprise, agent)
    assert access.visitor_block_summary(result.visitor) is None


@pytest.mark.parametrize(
    "until",
    [
        "9999-12-31T23:59:59-23:59",  # past year 9999 once in UTC
        "9999-12-31T23:59:59-14:00",
        "2999-02-30T00:00:00",  # no such day
        "2024-13-01T00:00:00",
        "0001-01-01T00:00:00+14:00",  # before year 1 in UTC
        "9999-12-31T23:59:59Z",  # exists, but shown east of UTC it would not
        "2300-01-01T00:00:00Z",
    ],
)
def test_an_expiry_date_that_does_not_exist_or_is_too_far_is_refused_as_invalid(enterprise, agent, until):
    result = login_visitor(enterprise, agent)
    with pytest.raises(ChatError) as err:
        visitor_block(agent=agent, visitor_id=result.visitor.visitor_id, until=until)
    assert err.value.code == "invalid"
    with pytest.raises(ChatError) as err:
        ip_block(agent=agent, network="203.0.113.9", until=until)
    assert err.value.code == "invalid"
    client = agent_client(agent)
    for body in (
        {"what": "visitor", "visitor_id": result.visitor.visitor_id, "until": until},
        {"what": "network", "network": "203.0.113.0/24", "until": until},
    ):
        response = client.post("/api/v1/agent/blacklist", body, format="json")
        assert (response.status_code, response.json()["error"]["code"]) == (400, "invalid")
    assert not VisitorBlock.objects.exists() and not IPBlacklist.objects.exists()


def test_a_date_with_an_offset_is_kept_as_the_same_moment(enterprise, agent):
    result = login_visitor(enterprise, agent)
    entry = visitor_block(agent=agent, visitor_id=result.visitor.visitor_id, until="2099-06-01T08:00:00+08:00")
    assert entry["expires_at"] == "2099-06-01T00:00:00+00:00"


@pytest.mark.parametrize("network", ["0.0.0.0/0", "::/0", "::ffff:0:0/96", "::/64", "::ffff:0:0/95", "0.0.0.0/0.0.0.0"])
def test_the_whole_address_space_is_never_blocked_by_anyone(enterprise, agent, network):
    roles_ensure()
    boss = agent_create(enterprise=enterprise, username="boss", password=AGENT_PASSWORD, role="enterprise_admin")
    for who in (agent, boss):
        with pytest.raises(ChatError) as err:
            ip_block(agent=who, network=network)
        assert err.value.code in ("too_wide", "invalid")
    response = agent_client(boss).post(
        "/api/v1/agent/blacklist", {"what": "network", "network": network}, format="json"
    )
    assert response.status_code == 400
    assert not IPBlacklist.objects.exists()
    assert login_visitor(enterprise, agent, ip="198.51.100.1").created


@pytest.mark.parametrize(
    ("network", "plain_agent_may"),
    [
        ("10.1.0.0/16", True),
        ("10.0.0.0/15", False),
        ("10.0.0.0/8", False),
        ("2001:db8::/32", True),
        ("2001:d00::/24", False),
        ("::ffff:10.0.0.0/104", True),  # IPv4 10.0.0.0/8 written as IPv6: judged as IPv4 /8... see below
    ],
)
def test_a_network_wider_than_the_limit_needs_an_enterprise_admin(enterprise, agent, network, plain_agent_may):
    if network.startswith("::ffff:"):
        plain_agent_may = False  # ::ffff:10.0.0.0/104 is 10.0.0.0/8
    roles_ensure()
    boss = agent_create(enterprise=enterprise, username="boss", password=AGENT_PASSWORD, role="enterprise_admin")
    if plain_agent_may:
        assert ip_block(agent=agent, network=network)["what"]
    else:
        with pytest.raises(ChatError) as err:
            ip_block(agent=agent, network=network)
        assert (err.value.code, err.value.status) == ("forbidden", 403)
        assert ip_block(agent=boss, network=network)["what"]


def test_the_width_limits_are_configurable(enterprise, agent, settings):
    settings.GOFLY = {**settings.GOFLY, "BLOCK_PREFIX_V4": 24}
    with pytest.raises(ChatError):
        ip_block(agent=agent, network="10.1.0.0/16")
    assert ip_block(agent=agent, network="10.1.2.0/24")["what"] == "10.1.2.0/24"


# --- a block ends the conversations it turns away ------------------------------------------------


def _write(visitor: Any, text: str) -> Any:
    return message_create(visitor=visitor, sender="visitor", content=text, client_id=text)[0]


def _online(agent: User) -> None:
    async_to_sync(get_presence().join)(Presence(agent.enterprise_id or 0, AGENT, agent.pk, f"test.{agent.pk}"))


def test_blocking_a_visitor_closes_their_conversation_and_the_agent_serves_the_next_in_the_queue(
    transactional_db, enterprise, agent
):
    _online(agent)
    User.objects.filter(pk=agent.pk).update(max_conversations=1)
    spammer = login_visitor(enterprise, agent).visitor
    _write(spammer, "buy cheap pills")
    waiting = login_visitor(enterprise, agent, ip="203.0.113.8").visitor
    _write(waiting, "hello?")
    live = Conversation.objects.get(open_visitor=spammer)
    assert live.assignee_id == agent.pk
    assert Conversation.objects.get(open_visitor=waiting).status == Conversation.Status.WAITING

    visitor_block(agent=agent, visitor_id=spammer.visitor_id, reason="spam")

    live.refresh_from_db()
    assert (live.status, live.closed_by, live.closed_by_agent_id) == ("closed", "agent", agent.pk)
    line = Message.objects.filter(conversation=live, kind="event").order_by("-pk").first()
    assert line is not None and line.content == "closed"
    meta = line.meta or {}
    assert (meta["by"], meta["blocked"], meta["agent"]["id"]) == ("agent", True, agent.pk)
    served = Conversation.objects.get(open_visitor=waiting)
    assert (served.status, served.assignee_id) == (Conversation.Status.OPEN, agent.pk)


def test_an_address_block_closes_the_conversations_of_visitors_at_that_address_only(
    transactional_db, enterprise, agent, other_enterprise, other_agent
):
    _online(agent)
    inside = login_visitor(enterprise, agent, ip="198.51.100.20").visitor
    outside = login_visitor(enterprise, agent, ip="198.51.101.20").visitor
    elsewhere = login_visitor(other_enterprise, other_agent, ip="198.51.100.21").visitor
    for visitor in (inside, outside, elsewhere):
        _write(visitor, "hi")

    ip_block(agent=agent, network="198.51.100.0/24")

    assert not Conversation.objects.filter(open_visitor=inside).exists()
    assert Conversation.objects.get(visitor=inside).closed_by_agent_id == agent.pk
    assert Conversation.objects.filter(open_visitor=outside).exists()
    assert Conversation.objects.filter(open_visitor=elsewhere).exists()  # another enterprise's block is not theirs


def test_a_block_refused_closes_nothing(transactional_db, enterprise, agent):
    visitor = login_visitor(enterprise, agent).visitor
    _write(visitor, "hi")
    with pytest.raises(ChatError):
        visitor_block(agent=without_block(agent), visitor_id=visitor.visitor_id)
    with pytest.raises(ChatError):
        ip_block(agent=agent, network="0.0.0.0/0")
    assert Conversation.objects.filter(open_visitor=visitor).exists()
