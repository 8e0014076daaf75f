"""The permission matrix of custom roles: every agent websocket frame and every agent HTTP endpoint that needs a
permission, tried by an agent of a role holding every permission but one and by one holding that one alone.

Without the permission: a `forbidden` error (frame, or HTTP 403) and the database exactly as it was. With it:
success. The frame list is checked against docs/protocol.md and the consumer, the endpoint list against the
URL configuration, so that a new frame or endpoint cannot escape the matrix.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.apps import apps
from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.db import transaction
from django.urls import URLResolver, get_resolver
from rest_framework.test import APIClient

from accounts.models import AgentStatus, RoleGroup, User
from accounts.permissions import PERMISSIONS, ROLE_AGENT, ROLE_ENTERPRISE_ADMIN
from accounts.services import agent_create, agent_update, role_save, roles_ensure
from blacklist import services as blacklist_services
from chat import services, workspace
from chat.consumers import AgentConsumer
from chat.models import Conversation, Message, Visitor
from enterprises.models import Enterprise
from enterprises.services import enterprise_create
from replies import services as replies_services
from tests.conftest import AGENT_PASSWORD, login_visitor

from .test_consumers import jwt_for
from .test_conversations import go_online, write
from .wsutil import agent_socket, connect_ready, recv, send

Status = Conversation.Status
MISSING_ID = 10**12

# One role per cell: every permission but one, and that one alone; and a role holding none (an admin may
# compose one: it must give nothing, not everything).
HELDS: dict[str, frozenset[str]] = {
    **{f"all-but-{name}": frozenset(PERMISSIONS) - {name} for name in PERMISSIONS},
    **{f"only-{name}": frozenset({name}) for name in PERMISSIONS},
    "none": frozenset(),
}
ROLES = [pytest.param(held, id=name) for name, held in HELDS.items()]


# --- the world: an enterprise, its admin, a role and its agent ------------------------------------------------


@dataclass
class Desk:
    """An enterprise whose agents are all `away`, so that routing leaves new conversations waiting: each case
    makes the state it needs."""

    enterprise: Enterprise
    boss: User  # the enterprise admin: builds the roles and the states (take, close) the cases start from
    target: User  # a colleague to transfer to, and to set a limit on
    members: dict[frozenset[str], User] = field(default_factory=dict)  # an agent per role, by what it holds
    roles: dict[frozenset[str], RoleGroup] = field(default_factory=dict)

    def visitor(self) -> Visitor:
        return login_visitor(self.enterprise).visitor

    def waiting(self) -> Conversation:
        visitor = self.visitor()
        write(visitor, "is anyone there?")
        conversation = Conversation.objects.get(visitor=visitor)
        assert conversation.status == Status.WAITING
        return conversation

    def open(self) -> Conversation:
        conversation = self.waiting()
        return services.conversation_take(agent=self.boss, conversation_id=conversation.pk)

    def closed(self) -> Conversation:
        return services.conversation_close(agent=self.boss, conversation_id=self.open().pk)


def desk_build(name: str = "Acme", helds: tuple[frozenset[str], ...] = ()) -> Desk:
    roles_ensure()
    enterprise = enterprise_create(name=name)
    prefix = name.lower()
    boss = agent_create(
        enterprise=enterprise,
        username=f"{prefix}-boss",
        password=AGENT_PASSWORD,
        role=ROLE_ENTERPRISE_ADMIN,
        max_conversations=0,
    )
    target = agent_create(
        enterprise=enterprise,
        username=f"{prefix}-target",
        password=AGENT_PASSWORD,
        role=ROLE_AGENT,
        max_conversations=0,
    )
    desk = Desk(enterprise, boss, target)
    for held in helds:
        desk.roles[held] = role = role_save(
            actor=boss, label="Role " + "+".join(sorted(held)), permissions=sorted(held)
        )
        desk.members[held] = agent_create(
            enterprise=enterprise,
            username=f"{prefix}-{len(desk.members)}",
            password=AGENT_PASSWORD,
            role=role.slug,
            max_conversations=0,  # no limit: the cases take, reopen and receive many conversations
        )
    User.objects.filter(enterprise=enterprise).update(status=AgentStatus.AWAY)
    return desk


_WATCHED_APPS = ("auth", "accounts", "enterprises", "chat", "replies", "notices")


def database_state() -> dict[str, list[dict[str, Any]]]:
    """Every row of the apps an agent's request or frame may write to (role memberships and grants too)."""
    return {
        model._meta.label: list(model._default_manager.order_by("pk").values())
        for label in _WATCHED_APPS
        for model in apps.get_app_config(label).get_models(include_auto_created=True)
    }


def changed_tables(before: dict[str, list[dict[str, Any]]], after: dict[str, list[dict[str, Any]]]) -> list[str]:
    return [label for label in before if before[label] != after[label]]


# --- the websocket matrix ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FrameRule:
    """What a frame needs (a short name of accounts.permissions, or None), the frame that answers it when it
    succeeds (None: no answer), valid data for it in a fresh state, and what the database shows after."""

    perm: str | None
    answer: str | None
    arrange: Callable[[Desk], dict[str, Any]]
    done: Callable[[dict[str, Any], User, frozenset[str]], bool] = lambda data, member, held: True


def _reply_to_waiting(desk: Desk) -> dict[str, Any]:
    conversation = desk.waiting()
    return {"visitor_id": conversation.visitor.visitor_id, "content": "I am here", "conversation": conversation.pk}


def _claimed_only_with_take(data: dict[str, Any], member: User, held: frozenset[str]) -> bool:
    # Replying needs no permission; it takes the waiting conversation for the agent only if they may take.
    conversation = Conversation.objects.get(pk=data["conversation"])
    if "take" in held:
        return conversation.status == Status.OPEN and conversation.assignee_id == member.pk
    return conversation.status == Status.WAITING and conversation.assignee_id is None


def _read_data(desk: Desk) -> dict[str, Any]:
    conversation = desk.waiting()
    up_to = Message.objects.filter(conversation=conversation).latest("pk").pk
    return {"visitor_id": conversation.visitor.visitor_id, "up_to": up_to}


def _conversation_is(status: str, assignee: str) -> Callable[[dict[str, Any], User, frozenset[str]], bool]:
    def done(data: dict[str, Any], member: User, held: frozenset[str]) -> bool:
        conversation = Conversation.objects.get(pk=data["conversation_id"])
        who = {"member": member.pk, "target": data.get("to_agent_id"), "unchanged": conversation.assignee_id}
        return conversation.status == status and conversation.assignee_id == who[assignee]

    return done


# Every frame an agent may send (docs/protocol.md section 6.2), with the permission it needs.
AGENT_FRAME_RULES: dict[str, FrameRule] = {
    "ping": FrameRule(None, "pong", lambda desk: {}),
    "sync": FrameRule(None, "history", lambda desk: {"after": 0}),
    "message.send": FrameRule(None, "message.ack", _reply_to_waiting, _claimed_only_with_take),
    "typing": FrameRule(None, None, lambda desk: {"visitor_id": desk.visitor().visitor_id}),
    "read": FrameRule(None, None, _read_data),
    "status.set": FrameRule(None, "ok", lambda desk: {"status": "away"}),
    "conversation.take": FrameRule(
        "take", "ok", lambda desk: {"conversation_id": desk.waiting().pk}, _conversation_is(Status.OPEN, "member")
    ),
    "conversation.transfer": FrameRule(
        "transfer",
        "ok",
        lambda desk: {"conversation_id": desk.waiting().pk, "to_agent_id": desk.target.pk, "note": "yours"},
        _conversation_is(Status.OPEN, "target"),
    ),
    "conversation.close": FrameRule(
        "close", "ok", lambda desk: {"conversation_id": desk.open().pk}, _conversation_is(Status.CLOSED, "unchanged")
    ),
    "conversation.reopen": FrameRule(
        "close", "ok", lambda desk: {"conversation_id": desk.closed().pk}, _conversation_is(Status.OPEN, "member")
    ),
}


def protocol_agent_frames() -> set[str]:
    """The client -> server frames of the agent socket, as docs/protocol.md's table in section 6.2 lists them."""
    text = (Path(settings.BASE_DIR) / "docs" / "protocol.md").read_text(encoding="utf-8")
    row = next(line for line in text.splitlines() if line.startswith("| client → server |"))
    agent_cell = row.strip("|").split("|")[2]
    return set(re.findall(r"`([a-z.]+)`", agent_cell))


def test_the_matrix_names_every_frame_the_agent_socket_takes_and_the_protocol_documents():
    assert set(AGENT_FRAME_RULES) == AgentConsumer.allowed_frames == protocol_agent_frames()
    for kind in AGENT_FRAME_RULES:
        assert callable(getattr(AgentConsumer, "on_" + kind.replace(".", "_"), None)), kind
    assert {rule.perm for rule in AGENT_FRAME_RULES.values()} - {None} <= set(PERMISSIONS)


async def exchange(ws: WebsocketCommunicator, kind: str, data: dict[str, Any], answer: str | None, ref: str) -> Any:
    """Send one frame; the frame that answers it (its `answer`, or an error naming its ref). A frame with no
    answer is followed by a ping: its pong, with no error before it, says it went through."""
    await send(ws, kind, {**data, "ref": ref, "client_id": ref} if kind == "message.send" else {**data, "ref": ref})
    if answer is None:
        await send(ws, "ping", {})
    refused = None
    while True:
        frame = await recv(ws)
        kind_, body = frame["type"], frame["data"]
        if kind_ == "error" and body.get("ref") in (ref, None):
            if answer is not None:
                return frame
            refused = frame  # the pong follows: read up to it, so that it answers no later frame
        elif answer is None and kind_ == "pong":
            return refused or frame
        elif kind_ == answer and (
            kind_ not in ("ok", "message.ack") or ref in (body.get("ref"), body.get("client_id"))
        ):
            return frame


def _frame_data(data: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if key != "conversation"}  # "conversation": the case's own


async def frame_case(desk: Desk, ws: WebsocketCommunicator, held: frozenset[str], kind: str, n: int) -> str | None:
    """Try one frame as the role holding `held`; what went wrong, or None."""
    rule = AGENT_FRAME_RULES[kind]
    member = desk.members[held]
    data = await database_sync_to_async(rule.arrange)(desk)
    before = await database_sync_to_async(database_state)()
    frame = await exchange(ws, kind, _frame_data(data), rule.answer, ref=f"r{n}")
    if rule.perm is None or rule.perm in held:
        if frame["type"] == "error":
            return f"{kind}: refused with {frame['data']} although it needs {rule.perm or 'nothing'}"
        if not await database_sync_to_async(rule.done)(data, member, held):
            return f"{kind}: answered {frame['type']} but the database does not show it done"
        return None
    if frame["type"] != "error" or frame["data"]["code"] != "forbidden":
        return f"{kind}: without {rule.perm!r} answered {frame} instead of the error `forbidden`"
    changed = changed_tables(before, await database_sync_to_async(database_state)())
    return f"{kind}: refused, yet changed {changed}" if changed else None


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("held", ROLES)
async def test_every_agent_frame_is_refused_without_its_permission_and_served_with_it(held):
    desk = await database_sync_to_async(desk_build)("Acme", (held,))
    member_ws, target_ws = agent_socket(jwt=jwt_for(desk.members[held])), agent_socket(jwt=jwt_for(desk.target))
    ready = await connect_ready(member_ws)
    assert set(ready["agent"]["permissions"]) == held
    await connect_ready(target_ws)  # online: a transfer's target
    wrong = [await frame_case(desk, member_ws, held, kind, n) for n, kind in enumerate(AGENT_FRAME_RULES)]
    # Twice over: the second round runs on a socket whose agent has been asked for every permission already.
    wrong += [await frame_case(desk, member_ws, held, kind, n + 100) for n, kind in enumerate(AGENT_FRAME_RULES)]
    for ws in (member_ws, target_ws):
        await ws.disconnect()
    assert [line for line in wrong if line] == []


# --- other enterprises, and roles that change under an open socket -------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_a_frame_naming_another_enterprises_conversation_visitor_or_agent_answers_like_a_missing_one():
    everything = frozenset(PERMISSIONS)
    desk = await database_sync_to_async(desk_build)("Acme", (everything,))
    theirs = await database_sync_to_async(desk_build)("Globex")

    def arrange() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
        visitor_id, missing_visitor = theirs.waiting().visitor.visitor_id, uuid.uuid4().hex
        up_to = Message.objects.filter(visitor__visitor_id=visitor_id).latest("pk").pk
        transfer = {"to_agent_id": desk.target.pk}
        own = desk.waiting().pk
        return [
            ("conversation.take", {"conversation_id": theirs.waiting().pk}, {"conversation_id": MISSING_ID}),
            ("conversation.close", {"conversation_id": theirs.open().pk}, {"conversation_id": MISSING_ID}),
            ("conversation.reopen", {"conversation_id": theirs.closed().pk}, {"conversation_id": MISSING_ID}),
            (
                "conversation.transfer",
                {"conversation_id": theirs.waiting().pk, **transfer},
                {"conversation_id": MISSING_ID, **transfer},
            ),
            (
                "conversation.transfer",
                {"conversation_id": own, "to_agent_id": theirs.target.pk},
                {"conversation_id": own, "to_agent_id": MISSING_ID},
            ),
            (
                "message.send",
                {"visitor_id": visitor_id, "content": "hi"},
                {"visitor_id": missing_visitor, "content": "hi"},
            ),
            ("typing", {"visitor_id": visitor_id}, {"visitor_id": missing_visitor}),
            ("read", {"visitor_id": visitor_id, "up_to": up_to}, {"visitor_id": missing_visitor, "up_to": up_to}),
        ]

    cases = await database_sync_to_async(arrange)()
    ws = agent_socket(jwt=jwt_for(desk.members[everything]))
    await connect_ready(ws)
    for n, (kind, their_data, missing_data) in enumerate(cases):
        before = await database_sync_to_async(database_state)()
        answer = AGENT_FRAME_RULES[kind].answer
        their_answer = await exchange(ws, kind, their_data, answer, ref=f"t{n}")
        missing_answer = await exchange(ws, kind, missing_data, answer, ref=f"t{n}")
        assert their_answer == missing_answer, kind
        assert their_answer["type"] == "error" and their_answer["data"]["code"] == "not_found", (kind, their_answer)
        assert changed_tables(before, await database_sync_to_async(database_state)()) == [], kind
    await ws.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_an_agent_whose_role_changes_while_connected_is_held_to_the_new_role_on_the_next_frame():
    take_close = frozenset({"take", "close"})
    desk = await database_sync_to_async(desk_build)("Acme", (take_close, frozenset()))
    member, role = desk.members[take_close], desk.roles[take_close]
    ws = agent_socket(jwt=jwt_for(member))
    ready = await connect_ready(ws)
    assert set(ready["agent"]["permissions"]) == take_close

    async def close(ref: str) -> tuple[Any, Conversation]:
        conversation = await database_sync_to_async(desk.open)()
        answer = await exchange(ws, "conversation.close", {"conversation_id": conversation.pk}, "ok", ref)
        return answer, await database_sync_to_async(Conversation.objects.get)(pk=conversation.pk)

    answer, conversation = await close("c1")
    assert answer["type"] == "ok" and conversation.status == Status.CLOSED
    # The admin takes `close` out of the role: the socket's next close is refused, and closes nothing.
    await database_sync_to_async(role_save)(actor=desk.boss, label=role.label, permissions=["take"], role_id=role.pk)
    answer, conversation = await close("c2")
    assert (answer["type"], answer["data"].get("code"), conversation.status) == ("error", "forbidden", Status.OPEN)
    # Then `take` too: a reply to a waiting visitor is stored but no longer takes the conversation.
    await database_sync_to_async(role_save)(actor=desk.boss, label=role.label, permissions=[], role_id=role.pk)
    data = await database_sync_to_async(_reply_to_waiting)(desk)
    answer = await exchange(ws, "message.send", _frame_data(data), "message.ack", "m1")
    assert answer["type"] == "message.ack"
    assert await database_sync_to_async(_claimed_only_with_take)(data, member, frozenset())
    # A permission given back works at once as well.
    await database_sync_to_async(role_save)(actor=desk.boss, label=role.label, permissions=["close"], role_id=role.pk)
    answer, conversation = await close("c3")
    assert answer["type"] == "ok" and conversation.status == Status.CLOSED
    # Moved to another role (one holding nothing) by the admin: refused again.
    await database_sync_to_async(agent_update)(
        actor=desk.boss,
        agent_id=member.pk,
        nickname=member.nickname,
        avatar=member.avatar,
        max_conversations=0,
        role=desk.roles[frozenset()].slug,
    )
    answer, conversation = await close("c4")
    assert (answer["type"], answer["data"].get("code"), conversation.status) == ("error", "forbidden", Status.OPEN)
    await ws.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_messages_read_no_permissions_and_each_action_frame_reads_them_afresh():
    everything = frozenset(PERMISSIONS)
    desk = await database_sync_to_async(desk_build)("Acme", (everything,))
    ws = agent_socket(jwt=jwt_for(desk.members[everything]))
    await connect_ready(ws)
    conversation = await database_sync_to_async(desk.waiting)()
    visitor_id = await database_sync_to_async(lambda: conversation.visitor.visitor_id)()
    taken = await exchange(ws, "conversation.take", {"conversation_id": conversation.pk}, "ok", "t")
    assert taken["type"] == "ok"
    asked: list[str] = []
    read_permissions = ModelBackend._get_permissions  # type: ignore[attr-defined]

    def counted(backend: ModelBackend, user: Any, obj: Any, from_name: str) -> Any:
        asked.append(from_name)
        return read_permissions(backend, user, obj, from_name)

    with mock.patch.object(ModelBackend, "_get_permissions", counted):
        for n in range(5):
            ack = await exchange(
                ws, "message.send", {"visitor_id": visitor_id, "content": f"{n}"}, "message.ack", f"m{n}"
            )
            assert ack["type"] == "message.ack"
        assert asked == []  # the message path never reads the agent's permissions
        closed = await exchange(ws, "conversation.close", {"conversation_id": conversation.pk}, "ok", "c")
        assert closed["type"] == "ok"
        assert sorted(asked) == ["group", "user"]  # an action reads them from the database, every time
    await ws.disconnect()


# --- the HTTP matrix --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    """An agent endpoint that needs permissions (short names, all of them), valid arguments for it in a fresh
    state ((path, body) from the desk and the member calling), and its status on success."""

    method: str
    route: str
    perms: frozenset[str]
    arrange: Callable[[Desk, User], tuple[str, Any]]
    success: int = 200
    case: str = ""  # which call of an endpoint tried more than one way

    @property
    def key(self) -> str:
        return f"{self.method} {self.route}"

    def __str__(self) -> str:
        return f"{self.method} {self.route.removeprefix('api/v1/agent/')}" + (f" ({self.case})" if self.case else "")


_CONVERSATION = "api/v1/agent/conversations/<int:conversation_id>"
_VISITOR = "api/v1/agent/visitors/<str:visitor_id>"


def _reorder(desk: Desk, member: User) -> tuple[str, Any]:
    # The member's own reply first: a refusal at the second id must not leave the first one moved.
    own = replies_services.canned_reply_create(agent=member, scope="personal", title="Mine", content="m", position=3)
    shared = replies_services.canned_reply_create(agent=desk.boss, scope="enterprise", title="Ours", content="o")
    return "/api/v1/agent/canned/reorder", {"ids": [own.pk, shared.pk]}


def _transfer(desk: Desk, member: User) -> tuple[str, Any]:
    go_online(desk.target)
    return f"/api/v1/agent/conversations/{desk.waiting().pk}/transfer", {"to_agent_id": desk.target.pk, "note": "yours"}


def _blocked_visitor(desk: Desk, member: User) -> tuple[str, Any]:
    visitor = desk.visitor()
    blacklist_services.visitor_block(agent=desk.boss, visitor_id=visitor.visitor_id)
    return f"/api/v1/agent/blacklist/visitor/{visitor.visitor_id}", None


def _blocked_address(desk: Desk, member: User) -> tuple[str, Any]:
    entry = blacklist_services.ip_block(agent=desk.boss, network="198.51.100.7")
    return f"/api/v1/agent/blacklist/ip/{entry['id']}", None


def _tag(desk: Desk) -> int:
    return workspace.tag_create(agent=desk.boss, name=f"tag-{uuid.uuid4().hex[:8]}").pk


def _rule(desk: Desk) -> int:
    return replies_services.keyword_rule_create(agent=desk.boss, keyword="price", reply="See our shop.").pk


def _welcome(desk: Desk) -> int:
    return replies_services.welcome_text_create(agent=desk.boss, content="<p>Hello</p>").pk


def _canned(desk: Desk) -> int:
    return replies_services.canned_reply_create(agent=desk.boss, scope="enterprise", title="Hi", content="Hello").pk


def _canned_group(desk: Desk) -> int:
    return replies_services.canned_group_create(agent=desk.boss, scope="enterprise", name="Shared").pk


def _p(*names: str) -> frozenset[str]:
    return frozenset(names)


# Every agent endpoint (method and route) that needs a permission, with one valid call of it.
HTTP_RULES: list[Endpoint] = [
    Endpoint("POST", f"{_CONVERSATION}/take", _p("take"), lambda d, m: (f"/{_c(d.waiting())}/take", None)),
    Endpoint("POST", f"{_CONVERSATION}/transfer", _p("transfer"), _transfer),
    Endpoint("POST", f"{_CONVERSATION}/close", _p("close"), lambda d, m: (f"/{_c(d.open())}/close", None)),
    Endpoint("POST", f"{_CONVERSATION}/reopen", _p("close"), lambda d, m: (f"/{_c(d.closed())}/reopen", None)),
    Endpoint("POST", f"{_VISITOR}/clear", _p("clear_history"), lambda d, m: (f"/{_v(d.waiting())}/clear", None)),
    Endpoint(
        "PATCH",
        "api/v1/agent/settings",
        _p("manage_settings"),
        lambda d, m: ("", {"auto_close_minutes": 45}),
        case="routing",
    ),
    Endpoint(
        "PATCH",
        "api/v1/agent/settings",
        _p("manage_settings"),
        lambda d, m: ("", {"landing_domain": ""}),
        case="landing",
    ),
    Endpoint(
        "PATCH",
        "api/v1/agent/agents/<int:agent_id>",
        _p("manage_agents"),
        lambda d, m: (f"/api/v1/agent/agents/{d.target.pk}", {"max_conversations": 3}),
    ),
    Endpoint("GET", "api/v1/agent/alerts/team", _p("manage_agents"), lambda d, m: ("", None)),
    Endpoint("GET", "api/v1/agent/blacklist", _p("block"), lambda d, m: ("", None)),
    Endpoint(
        "POST",
        "api/v1/agent/blacklist",
        _p("block"),
        lambda d, m: ("", {"visitor_id": d.visitor().visitor_id, "what": "visitor", "until": "1d"}),
        201,
        "visitor",
    ),
    Endpoint(
        "POST", "api/v1/agent/blacklist", _p("block"), lambda d, m: ("", {"network": "198.51.100.0/24"}), 201, "/24"
    ),
    # Wider than GOFLY_BLOCK_PREFIX_V4 (/16): an admin's call.
    Endpoint(
        "POST",
        "api/v1/agent/blacklist",
        _p("block", "manage_settings"),
        lambda d, m: ("", {"network": "10.0.0.0/8"}),
        201,
        "/8",
    ),
    Endpoint(
        "DELETE", "api/v1/agent/blacklist/<str:kind>/<str:entry_id>", _p("block"), _blocked_visitor, 204, "visitor"
    ),
    Endpoint("DELETE", "api/v1/agent/blacklist/<str:kind>/<str:entry_id>", _p("block"), _blocked_address, 204, "ip"),
    Endpoint("POST", "api/v1/agent/tags", _p("manage_settings"), lambda d, m: ("", {"name": "VIP"}), 201),
    Endpoint(
        "PATCH",
        "api/v1/agent/tags/<str:tag_id>",
        _p("manage_settings"),
        lambda d, m: (f"/api/v1/agent/tags/{_tag(d)}", {"colour": "red"}),
    ),
    Endpoint(
        "DELETE",
        "api/v1/agent/tags/<str:tag_id>",
        _p("manage_settings"),
        lambda d, m: (f"/api/v1/agent/tags/{_tag(d)}", None),
        204,
    ),
    Endpoint("GET", "api/v1/agent/keyword-rules", _p("manage_settings"), lambda d, m: ("", None)),
    Endpoint(
        "POST",
        "api/v1/agent/keyword-rules",
        _p("manage_settings"),
        lambda d, m: ("", {"keyword": "hi", "reply": "Hello"}),
        201,
    ),
    Endpoint(
        "PATCH",
        "api/v1/agent/keyword-rules/<int:rule_id>",
        _p("manage_settings"),
        lambda d, m: (f"/api/v1/agent/keyword-rules/{_rule(d)}", {"enabled": False}),
    ),
    Endpoint(
        "DELETE",
        "api/v1/agent/keyword-rules/<int:rule_id>",
        _p("manage_settings"),
        lambda d, m: (f"/api/v1/agent/keyword-rules/{_rule(d)}", None),
        204,
    ),
    Endpoint("GET", "api/v1/agent/welcome-texts", _p("manage_settings"), lambda d, m: ("", None)),
    Endpoint(
        "POST", "api/v1/agent/welcome-texts", _p("manage_settings"), lambda d, m: ("", {"content": "<p>Hi</p>"}), 201
    ),
    Endpoint(
        "PATCH",
        "api/v1/agent/welcome-texts/<int:welcome_id>",
        _p("manage_settings"),
        lambda d, m: (f"/api/v1/agent/welcome-texts/{_welcome(d)}", {"content": "<p>Welcome</p>"}),
    ),
    Endpoint(
        "DELETE",
        "api/v1/agent/welcome-texts/<int:welcome_id>",
        _p("manage_settings"),
        lambda d, m: (f"/api/v1/agent/welcome-texts/{_welcome(d)}", None),
        204,
    ),
    # Canned replies and their groups: personal ones need nothing, the enterprise's need manage_settings.
    Endpoint(
        "POST",
        "api/v1/agent/canned",
        _p("manage_settings"),
        lambda d, m: ("", {"scope": "enterprise", "title": "Hi", "content": "Hello"}),
        201,
    ),
    Endpoint(
        "PATCH",
        "api/v1/agent/canned/<int:reply_id>",
        _p("manage_settings"),
        lambda d, m: (f"/api/v1/agent/canned/{_canned(d)}", {"title": "Hello"}),
    ),
    Endpoint(
        "DELETE",
        "api/v1/agent/canned/<int:reply_id>",
        _p("manage_settings"),
        lambda d, m: (f"/api/v1/agent/canned/{_canned(d)}", None),
        204,
    ),
    Endpoint("POST", "api/v1/agent/canned/reorder", _p("manage_settings"), _reorder, 204),
    Endpoint(
        "POST",
        "api/v1/agent/canned-groups",
        _p("manage_settings"),
        lambda d, m: ("", {"scope": "enterprise", "name": "Shared"}),
        201,
    ),
    Endpoint(
        "PATCH",
        "api/v1/agent/canned-groups/<int:group_id>",
        _p("manage_settings"),
        lambda d, m: (f"/api/v1/agent/canned-groups/{_canned_group(d)}", {"name": "Ours"}),
    ),
    Endpoint(
        "DELETE",
        "api/v1/agent/canned-groups/<int:group_id>",
        _p("manage_settings"),
        lambda d, m: (f"/api/v1/agent/canned-groups/{_canned_group(d)}", None),
        204,
    ),
    Endpoint(  # a colleague's routing QR code: with the permission, the account's absence is what answers
        "GET",
        "api/v1/agent/wechat/agents/<int:agent_id>/route-qrcode",
        _p("manage_agents"),
        lambda d, m: (
            f"/api/v1/agent/wechat/agents/{next(a.pk for a in d.members.values() if a.pk != m.pk)}/route-qrcode",
            None,
        ),
        409,
    ),
]

# The agent endpoints any agent may call (each still scoped to the agent's enterprise).
HTTP_OPEN = {
    "GET api/v1/agent/me",
    "GET api/v1/agent/visitors",
    f"GET {_VISITOR}",
    f"PATCH {_VISITOR}",  # the remark name
    f"GET {_VISITOR}/messages",
    f"POST {_VISITOR}/messages",  # a reply takes a waiting conversation only with `take` (the frame matrix)
    f"POST {_VISITOR}/tags",
    f"DELETE {_VISITOR}/tags/<str:tag_id>",
    f"POST {_VISITOR}/read",
    f"POST {_VISITOR}/uploads",
    "GET api/v1/agent/tags",
    "GET api/v1/agent/search",
    "GET api/v1/agent/conversations",
    f"GET {_CONVERSATION}",
    f"GET {_CONVERSATION}/messages",
    "GET api/v1/agent/agents",
    "GET api/v1/agent/settings",
    "POST api/v1/agent/status",
    "GET api/v1/agent/canned",
    "POST api/v1/agent/canned",  # scope "personal"
    "PATCH api/v1/agent/canned/<int:reply_id>",  # one's own
    "DELETE api/v1/agent/canned/<int:reply_id>",
    "POST api/v1/agent/canned/reorder",
    "POST api/v1/agent/canned-groups",
    "PATCH api/v1/agent/canned-groups/<int:group_id>",
    "DELETE api/v1/agent/canned-groups/<int:group_id>",
    "GET api/v1/agent/alerts",
    "PATCH api/v1/agent/alerts",
    "GET api/v1/agent/announcements",
    "POST api/v1/agent/announcements/<int:announcement_id>/read",
    # One's own WeChat binding and QR codes (tests/wechat/test_qrcodes.py: other agents' and tenants' refused)
    "GET api/v1/agent/wechat/binding",
    "DELETE api/v1/agent/wechat/binding",
    "POST api/v1/agent/wechat/bind-qrcode",
    "GET api/v1/agent/wechat/route-qrcode",
    "GET api/v1/agent/wechat/qrcodes/<int:qrcode_id>/image",
}


def _c(conversation: Conversation) -> str:
    return f"{_CONVERSATION.replace('<int:conversation_id>', str(conversation.pk))}"


def _v(conversation: Conversation) -> str:
    return _VISITOR.replace("<str:visitor_id>", conversation.visitor.visitor_id)


def agent_endpoints() -> set[str]:
    """Every "METHOD route" of the agent API, from the URL configuration."""

    def walk(patterns: list[Any], prefix: str) -> Iterator[tuple[str, Any]]:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            else:
                yield prefix + str(pattern.pattern), pattern.callback

    found = set()
    for route, view in walk(get_resolver().url_patterns, ""):
        if route.startswith("api/v1/agent/"):
            handlers = getattr(view, "view_class", None) or view
            found |= {f"{m.upper()} {route}" for m in ("get", "post", "put", "patch", "delete") if hasattr(handlers, m)}
    return found


def test_every_agent_endpoint_is_in_the_matrix_or_listed_as_open_to_every_agent():
    assert agent_endpoints() == {rule.key for rule in HTTP_RULES} | HTTP_OPEN


@pytest.fixture(scope="class")
def office(django_db_setup: Any, django_db_blocker: Any) -> Iterator[Desk]:
    """One enterprise with an agent per role for the whole HTTP matrix, rolled back after it; each case's own
    rows roll back with the case."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield desk_build("Acme", tuple(HELDS.values()))
        transaction.set_rollback(True)


@pytest.mark.django_db
class TestHttpMatrix:
    @pytest.mark.parametrize("held", ROLES)
    @pytest.mark.parametrize("rule", HTTP_RULES, ids=str)
    def test_an_endpoint_is_refused_without_its_permissions_and_served_with_them(self, office, rule, held):
        member = office.members[held]
        path, body = rule.arrange(office, member)
        path = path or "/" + rule.route
        before = database_state()
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {jwt_for(member)}")
        response = client.generic(
            rule.method, path, data="" if body is None else json.dumps(body), content_type="application/json"
        )
        if rule.perms <= held:
            assert response.status_code == rule.success, response.content
        else:
            assert response.status_code == 403, response.content
            assert response.json()["error"]["code"] == "forbidden"
            assert changed_tables(before, database_state()) == []
