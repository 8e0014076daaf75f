"""Rotating an enterprise's identity secret with a grace: the old secret's identities and visitor tokens are
honoured until the deadline and count for nothing after it; a chore forgets it and closes its sockets."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.test import Client
from django.utils import timezone, translation
from rest_framework.test import APIClient

from accounts.models import User
from accounts.services import agent_create, superadmin_create
from chat import frames, hooks, tenants
from chat.access import access_visitor_self
from chat.deploy import GRACE_CHOICES
from chat.frames import CLOSE_UNAUTHENTICATED
from chat.identity import visitor_token_fits
from core.errors import ChatError
from enterprises.identity import identity_fingerprint, identity_sign
from enterprises.models import AuditAction, AuditEntry, Enterprise
from enterprises.services import (
    IDENTITY_GRACES,
    enterprise_identity_previous_expire,
    enterprise_identity_secret_rotate,
    enterprise_identity_secret_set,
)
from tests.conftest import AGENT_PASSWORD, login_visitor

from .wsutil import connect_ready, recv, recv_type, send, visitor_socket

pytestmark = pytest.mark.django_db
live_db = pytest.mark.django_db(transaction=True)
OLD = "old-secret-of-acme"
PAGE = "/manage/deploy/"


@pytest.fixture
def signed_enterprise(enterprise: Enterprise) -> Enterprise:
    enterprise.identity_secret = OLD
    enterprise.save(update_fields=["identity_secret"])
    return enterprise


def signed(secret: str, visitor_id: str = "user-42") -> dict[str, Any]:
    """Login parameters of an identity the operator's server signed with `secret`, now."""
    params = {"visitor_id": visitor_id, "visitor_name": "Li Lei", "avatar": "", "timestamp": str(int(time.time()))}
    return {**params, "signature": identity_sign(secret=secret, **params)}


def rotate(enterprise: Enterprise, grace: str = "24h", actor: Any = None) -> str:
    secret = enterprise_identity_secret_rotate(actor=actor, enterprise_id=enterprise.pk, grace=grace)
    enterprise.refresh_from_db()
    return secret


def grace_ends(enterprise: Enterprise) -> None:
    """The deadline passes: moved into the past without a save, so no chore or signal has run."""
    Enterprise.objects.filter(pk=enterprise.pk).update(identity_secret_previous_until=timezone.now() - timedelta(1))
    enterprise.refresh_from_db()


def refusal(enterprise: Enterprise, **params: Any) -> ChatError:
    with pytest.raises(ChatError) as caught:
        login_visitor(enterprise, **params)
    return caught.value


def visitor_api(token: str) -> APIClient:
    return APIClient(HTTP_AUTHORIZATION=f"Visitor {token}")


def messages_status(token: str) -> int:
    return visitor_api(token).get("/api/v1/visitor/messages").status_code


# --- identities and tokens --------------------------------------------------------------------------------


def test_an_identity_signed_with_the_old_secret_is_accepted_during_the_grace_and_refused_after(signed_enterprise):
    first = login_visitor(signed_enterprise, **signed(OLD))
    new = rotate(signed_enterprise)
    assert signed_enterprise.identity_secret_previous == OLD
    # The operator's server has not been given the new secret yet: its visitors still come in, as themselves.
    again = login_visitor(signed_enterprise, **signed(OLD))
    assert again.visitor.pk == first.visitor.pk and again.created is False
    assert login_visitor(signed_enterprise, **signed(new)).visitor.pk == first.visitor.pk
    assert refusal(signed_enterprise, **signed("never-the-secret")).code == "bad_signature"
    grace_ends(signed_enterprise)
    error = refusal(signed_enterprise, **signed(OLD))
    assert (error.code, error.status) == ("bad_signature", 403)
    assert login_visitor(signed_enterprise, **signed(new)).visitor.pk == first.visitor.pk


def test_an_old_token_keeps_chatting_over_http_during_the_grace_and_is_refused_after(signed_enterprise):
    first = login_visitor(signed_enterprise, **signed(OLD))
    new = rotate(signed_enterprise)
    assert messages_status(first.token) == 200
    left = {"contact": "li@example.com", "content": "call me back"}
    assert visitor_api(first.token).post("/api/v1/visitor/leave-message", left, format="json").status_code == 201
    assert login_visitor(signed_enterprise, token=first.token).visitor.pk == first.visitor.pk  # resumed by token
    fresh = visitor_api(first.token).post("/api/v1/visitor/token").json()["token"]
    assert messages_status(fresh) == 200
    # A token issued during the grace under the new secret lives on after it.
    by_new = login_visitor(signed_enterprise, **signed(new))
    grace_ends(signed_enterprise)
    assert messages_status(first.token) == 404
    assert visitor_api(first.token).post("/api/v1/visitor/leave-message", left, format="json").status_code == 404
    assert visitor_api(first.token).post("/api/v1/visitor/token").status_code == 404
    assert refusal(signed_enterprise, token=first.token).code == "identity_required"
    assert messages_status(by_new.token) == 200


def test_what_only_the_old_secret_proved_during_the_grace_ends_with_it(signed_enterprise):
    """A login signed with the old (perhaps leaked) secret, or a refresh or resume of an old token, during the
    grace gets a token that ends with the grace: it never turns into one of the new secret."""
    before = login_visitor(signed_enterprise, **signed(OLD))
    new = rotate(signed_enterprise)
    during = login_visitor(signed_enterprise, **signed(OLD, visitor_id="user-43"))
    resumed = login_visitor(signed_enterprise, token=before.token)
    refreshed = visitor_api(before.token).post("/api/v1/visitor/token").json()["token"]
    upgraded = login_visitor(signed_enterprise, token=before.token, **signed(new))
    for token in (during.token, resumed.token, refreshed, upgraded.token):
        assert messages_status(token) == 200
    grace_ends(signed_enterprise)
    for token in (during.token, resumed.token, refreshed):
        assert messages_status(token) == 404
    assert messages_status(upgraded.token) == 200  # the site signed with the new secret: its token holds


def test_without_a_grace_rotation_ends_the_old_secret_and_its_tokens_at_once(signed_enterprise):
    first = login_visitor(signed_enterprise, **signed(OLD))
    new = rotate(signed_enterprise, grace="none")
    assert (signed_enterprise.identity_secret_previous, signed_enterprise.identity_secret_previous_until) == ("", None)
    assert messages_status(first.token) == 404
    assert refusal(signed_enterprise, **signed(OLD)).code == "bad_signature"
    assert refusal(signed_enterprise, token=first.token).code == "identity_required"
    assert messages_status(login_visitor(signed_enterprise, **signed(new)).token) == 200


def test_rotating_again_during_the_grace_drops_the_oldest_secret(signed_enterprise):
    oldest = login_visitor(signed_enterprise, **signed(OLD))
    middle = rotate(signed_enterprise, grace="7d")
    by_middle = login_visitor(signed_enterprise, **signed(middle, visitor_id="user-43"))
    newest = rotate(signed_enterprise, grace="1h")
    assert signed_enterprise.identity_secret == newest and signed_enterprise.identity_secret_previous == middle
    until = signed_enterprise.identity_secret_previous_until
    assert until is not None and abs(until - timezone.now() - timedelta(hours=1)) < timedelta(minutes=1)
    assert refusal(signed_enterprise, **signed(OLD)).code == "bad_signature"
    assert messages_status(oldest.token) == 404
    assert login_visitor(signed_enterprise, **signed(middle, visitor_id="user-43")).visitor.pk == by_middle.visitor.pk
    assert messages_status(by_middle.token) == 200


@pytest.mark.parametrize("generate", [False, True])
def test_turning_the_secret_off_or_setting_it_anew_forgets_the_previous_one(signed_enterprise, generate):
    first = login_visitor(signed_enterprise, **signed(OLD))
    rotate(signed_enterprise)
    enterprise_identity_secret_set(actor=None, enterprise_id=signed_enterprise.pk, generate=generate)
    signed_enterprise.refresh_from_db()
    assert signed_enterprise.identity_secret_previous == "" and signed_enterprise.identity_secret_previous_until is None
    if generate:  # a fresh secret, with no grace for the one before
        assert messages_status(first.token) == 404
        assert refusal(signed_enterprise, **signed(OLD)).code == "bad_signature"
    else:  # no secret: every token of the enterprise works, as before
        assert messages_status(first.token) == 200


def test_rotating_without_a_secret_sets_one_and_keeps_no_previous(enterprise):
    secret = rotate(enterprise, grace="7d")
    assert enterprise.identity_secret == secret and len(secret) >= 40
    assert (enterprise.identity_secret_previous, enterprise.identity_secret_previous_until) == ("", None)
    assert AuditEntry.objects.get().action == AuditAction.IDENTITY_SECRET_SET


@pytest.mark.parametrize("grace", ["2h", "", "24H", None, 24, ["24h"]])
def test_a_grace_not_on_the_list_is_refused_and_changes_nothing(signed_enterprise, grace):
    with pytest.raises(ChatError) as caught:
        enterprise_identity_secret_rotate(actor=None, enterprise_id=signed_enterprise.pk, grace=grace)
    assert (caught.value.code, caught.value.status) == ("invalid", 400)
    signed_enterprise.refresh_from_db()
    assert (signed_enterprise.identity_secret, signed_enterprise.identity_secret_previous) == (OLD, "")
    assert not AuditEntry.objects.exists()


def test_checking_a_token_during_the_grace_costs_no_query(signed_enterprise, django_assert_num_queries):
    first = login_visitor(signed_enterprise, **signed(OLD))
    rotate(signed_enterprise)
    with django_assert_num_queries(0):
        assert visitor_token_fits(identity_fingerprint(OLD), signed_enterprise)
        assert not visitor_token_fits(identity_fingerprint("another"), signed_enterprise)
        assert not visitor_token_fits("", signed_enterprise)
    with django_assert_num_queries(1):  # the visitor with its enterprise, as without a rotation
        access_visitor_self(
            enterprise_id=signed_enterprise.pk, visitor_pk=first.visitor.pk, identity=identity_fingerprint(OLD)
        )


def test_the_previous_secret_counts_only_until_its_deadline_at_use_time(signed_enterprise):
    rotate(signed_enterprise, grace="1h")
    old = identity_fingerprint(OLD)
    assert visitor_token_fits(old, signed_enterprise)
    until = signed_enterprise.identity_secret_previous_until
    assert until is not None
    signed_enterprise.identity_secret_previous_until = timezone.now() - timedelta(seconds=1)
    assert not visitor_token_fits(old, signed_enterprise)  # no chore has run: the deadline alone decides
    signed_enterprise.identity_secret_previous_until = until
    assert visitor_token_fits(old, signed_enterprise)


# --- the chore --------------------------------------------------------------------------------------------


def test_the_chore_forgets_only_previous_secrets_whose_grace_is_over(signed_enterprise, other_enterprise):
    other_enterprise.identity_secret = "globex-secret"
    other_enterprise.save(update_fields=["identity_secret"])
    rotate(signed_enterprise)
    rotate(other_enterprise)
    assert enterprise_identity_previous_expire() == []
    grace_ends(signed_enterprise)
    assert enterprise_identity_previous_expire() == [signed_enterprise.pk]
    signed_enterprise.refresh_from_db()
    other_enterprise.refresh_from_db()
    assert (signed_enterprise.identity_secret_previous, signed_enterprise.identity_secret_previous_until) == ("", None)
    assert other_enterprise.identity_secret_previous == "globex-secret"
    assert enterprise_identity_previous_expire() == []  # done once


def test_the_revocation_event_names_the_secrets_whose_sockets_stay():
    assert frames.visitor_revoked_event("new-fp", also="old-fp") == {
        "type": "visitor.revoked",
        "identity": "new-fp",
        "also": "old-fp",
    }
    assert frames.visitor_revoked_event() == {"type": "visitor.revoked", "identity": None, "also": ""}


def test_the_chore_runs_on_every_heartbeat_of_a_server_process():
    assert tenants.identity_previous_chore in hooks.periodic_chore._receivers


@live_db
async def test_an_old_tokens_socket_chats_through_the_grace_and_the_chore_closes_it_after(
    signed_enterprise, agent, monkeypatch
):
    before = await database_sync_to_async(login_visitor)(signed_enterprise, agent, **signed(OLD))
    old_ws = visitor_socket(before.token)
    await connect_ready(old_ws)
    new = await database_sync_to_async(rotate)(signed_enterprise)
    assert await old_ws.receive_nothing(timeout=0.5)  # the rotation closed nothing
    await send(old_ws, "message.send", {"client_id": "c-1", "content": "still here"})
    assert (await recv_type(old_ws, "message.ack"))["client_id"] == "c-1"
    # During the grace an old token opens a socket, and so does one of the new secret.
    second_old = visitor_socket(before.token)
    await connect_ready(second_old)
    await second_old.disconnect()
    after = await database_sync_to_async(login_visitor)(signed_enterprise, agent, **signed(new, visitor_id="u-2"))
    new_ws = visitor_socket(after.token)
    await connect_ready(new_ws)

    await database_sync_to_async(grace_ends)(signed_enterprise)
    refused = visitor_socket(before.token)  # at use time, before any chore
    await refused.connect(timeout=5)
    assert (await recv(refused))["data"]["code"] == "not_found"
    assert await refused.receive_output(timeout=3) == {"type": "websocket.close", "code": CLOSE_UNAUTHENTICATED}

    monkeypatch.setattr(tenants, "_identity_chore_done", 0.0)
    await tenants.identity_previous_chore(None)
    assert (await recv_type(old_ws, "error"))["code"] == "unauthenticated"  # after its conversation's frames
    assert await old_ws.receive_output(timeout=3) == {"type": "websocket.close", "code": CLOSE_UNAUTHENTICATED}
    assert await new_ws.receive_nothing(timeout=0.5)
    await send(new_ws, "message.send", {"client_id": "c-2", "content": "new token"})
    assert (await recv_type(new_ws, "message.ack"))["client_id"] == "c-2"
    await new_ws.disconnect()
    stored = await database_sync_to_async(Enterprise.objects.get)(pk=signed_enterprise.pk)
    assert (stored.identity_secret_previous, stored.identity_secret_previous_until) == ("", None)


@live_db
async def test_rotating_again_closes_at_once_the_sockets_of_the_dropped_secret_only(signed_enterprise, agent):
    oldest = await database_sync_to_async(login_visitor)(signed_enterprise, agent, **signed(OLD))
    oldest_ws = visitor_socket(oldest.token)
    await connect_ready(oldest_ws)
    middle = await database_sync_to_async(rotate)(signed_enterprise)
    by_middle = await database_sync_to_async(login_visitor)(signed_enterprise, agent, **signed(middle, "u-2"))
    middle_ws = visitor_socket(by_middle.token)
    await connect_ready(middle_ws)
    assert await oldest_ws.receive_nothing(timeout=0.3)
    await database_sync_to_async(rotate)(signed_enterprise, "1h")
    assert (await recv(oldest_ws))["data"]["code"] == "unauthenticated"
    assert await oldest_ws.receive_output(timeout=3) == {"type": "websocket.close", "code": CLOSE_UNAUTHENTICATED}
    assert await middle_ws.receive_nothing(timeout=0.5)
    # Without a grace, the rotation closes the rest.
    await database_sync_to_async(rotate)(signed_enterprise, "none")
    assert (await recv(middle_ws))["data"]["code"] == "unauthenticated"
    assert await middle_ws.receive_output(timeout=3) == {"type": "websocket.close", "code": CLOSE_UNAUTHENTICATED}


# --- the deploy page and the audit log --------------------------------------------------------------------


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(User.objects.get(pk=user.pk))
    return client


def test_the_page_offers_the_graces_the_service_takes_with_24_hours_first_chosen(signed_enterprise, boss):
    assert [value for value, _label in GRACE_CHOICES] == list(IDENTITY_GRACES)
    page = signed_in(boss).get(PAGE).content.decode()
    assert '<select name="grace" id="deploy-grace">' in page
    assert '<option value="24h" selected>' in page and page.count(" selected>") == 2  # and the agent's


def test_the_deploy_page_rotates_with_the_grace_chosen_and_shows_the_new_secret_once(signed_enterprise, boss):
    client = signed_in(boss)
    answer = client.post(PAGE, {"action": "secret", "grace": "7d"}).content.decode()
    signed_enterprise.refresh_from_db()
    new = signed_enterprise.identity_secret
    assert new != OLD and new in answer and OLD not in answer
    assert signed_enterprise.identity_secret_previous == OLD
    until = signed_enterprise.identity_secret_previous_until
    assert until is not None and abs(until - timezone.now() - timedelta(days=7)) < timedelta(minutes=1)
    page = client.get(PAGE).content.decode()
    assert new not in page and OLD not in page and new[:4] in page and 'id="deploy-secret-previous"' in page
    entry = AuditEntry.objects.get(action=AuditAction.IDENTITY_SECRET_ROTATED)
    assert entry.actor == boss and entry.enterprise_id == signed_enterprise.pk
    assert entry.details == {"grace": "7d", "previous_until": until.isoformat()}
    with translation.override("en"):
        assert entry.get_action_display() == "rotated the identity secret"
    # Without a grace given, 24 hours; a grace off the list is refused, and nothing changes.
    client.post(PAGE, {"action": "secret"})
    signed_enterprise.refresh_from_db()
    assert signed_enterprise.identity_secret_previous == new
    latest = AuditEntry.objects.filter(action=AuditAction.IDENTITY_SECRET_ROTATED).first()
    assert latest is not None and latest.details["grace"] == "24h"
    current = signed_enterprise.identity_secret
    bad = client.post(PAGE, {"action": "secret", "grace": "forever"})
    assert bad.status_code == 400 and 'id="deploy-secret-error"' in bad.content.decode()
    assert Enterprise.objects.get(pk=signed_enterprise.pk).identity_secret == current


def test_a_rotation_without_grace_and_turning_off_are_audited_and_the_page_shows_no_deadline(signed_enterprise, boss):
    client = signed_in(boss)
    client.post(PAGE, {"action": "secret", "grace": "none"})
    entry = AuditEntry.objects.get(action=AuditAction.IDENTITY_SECRET_ROTATED)
    assert entry.details == {"grace": "none", "previous_until": None}
    assert 'id="deploy-secret-previous"' not in client.get(PAGE).content.decode()
    client.post(PAGE, {"action": "secret", "grace": "1h"})
    assert client.post(PAGE, {"action": "secret_off"}).status_code == 302
    assert AuditEntry.objects.get(action=AuditAction.IDENTITY_SECRET_SET).details == {"required": False}
    stored = Enterprise.objects.get(pk=signed_enterprise.pk)
    assert (stored.identity_secret, stored.identity_secret_previous, stored.identity_secret_previous_until) == (
        "",
        "",
        None,
    )


def test_only_a_user_with_manage_settings_of_the_enterprise_may_rotate(signed_enterprise, agent, other_enterprise):
    assert signed_in(agent).post(PAGE, {"action": "secret", "grace": "7d"}).status_code == 403
    assert Client().post(PAGE, {"action": "secret", "grace": "7d"}).status_code == 302  # to the login page
    other_admin = agent_create(
        enterprise=other_enterprise, username="globex-boss", password=AGENT_PASSWORD, role="enterprise_admin"
    )
    # There is no enterprise to choose: another tenant's admin rotates their own.
    answer = signed_in(other_admin).post(
        f"{PAGE}?ent_id={signed_enterprise.pk}", {"action": "secret", "grace": "7d", "enterprise": signed_enterprise.pk}
    )
    assert answer.status_code == 200 and OLD not in answer.content.decode()
    stored = Enterprise.objects.get(pk=signed_enterprise.pk)
    assert (stored.identity_secret, stored.identity_secret_previous) == (OLD, "")
    assert Enterprise.objects.get(pk=other_enterprise.pk).identity_secret != ""
    assert not AuditEntry.objects.filter(enterprise=signed_enterprise, action__startswith="identity_secret").exists()


@live_db  # the visitor login runs in a pool thread: it sees committed rows only
def test_the_previous_secret_appears_in_no_page_or_api_answer(signed_enterprise, agent, boss):
    from accounts.tokens import AgentAccessToken

    visitor = login_visitor(signed_enterprise, **signed(OLD))
    client = signed_in(boss)
    client.post(PAGE, {"action": "secret", "grace": "24h"})
    entry = AuditEntry.objects.get(action=AuditAction.IDENTITY_SECRET_ROTATED)
    pk = signed_enterprise.pk
    answers: list[Any] = [
        client.get(PAGE),
        client.get("/manage/"),
        client.get("/manage/enterprises/enterprise/"),
        client.get(f"/manage/enterprises/enterprise/{pk}/change/"),
        client.get("/manage/enterprises/auditentry/"),
        client.get(f"/manage/enterprises/auditentry/{entry.pk}/change/"),
    ]
    root = Client()
    root.force_login(superadmin_create(username="root", password=AGENT_PASSWORD))
    answers += [
        root.get(f"/admin/enterprises/enterprise/{pk}/change/"),
        root.get("/admin/enterprises/enterprise/"),
        root.get(f"/admin/enterprises/auditentry/{entry.pk}/change/"),
    ]
    api = APIClient(HTTP_AUTHORIZATION=f"Bearer {AgentAccessToken.for_user(boss)}")
    answers += [
        api.get("/api/v1/agent/settings"),
        api.get("/api/v1/agent/me"),
        visitor_api(visitor.token).get("/api/v1/visitor/messages"),
        APIClient().post("/api/v1/visitor/login", {"ent_id": pk, **signed(OLD)}, format="json"),
        APIClient().get("/api/v1/widget", {"ent_id": pk}),
    ]
    for answer in answers:
        assert answer.status_code == 200, (answer.request["PATH_INFO"], answer.status_code)
        body = answer.content.decode()
        assert OLD not in body, answer.request["PATH_INFO"]
        assert identity_fingerprint(OLD) not in body, answer.request["PATH_INFO"]
