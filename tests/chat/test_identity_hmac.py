"""Signed visitor identities: an enterprise's identity secret, HMAC-signed links, refusals and resumes."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import pytest
from rest_framework.test import APIClient

from chat.models import Visitor
from chat.services import message_create
from core.errors import ChatError
from enterprises.identity import identity_sign, identity_verify
from enterprises.models import Enterprise
from tests.conftest import login_visitor

pytestmark = pytest.mark.django_db
login_db = pytest.mark.django_db(transaction=True)
SECRET = "s3cret-of-acme"


@pytest.fixture
def signed_enterprise(enterprise: Enterprise) -> Enterprise:
    enterprise.identity_secret = SECRET
    enterprise.save(update_fields=["identity_secret"])
    return enterprise


def signed(
    visitor_id: str = "user-42", visitor_name: str = "Li Lei", avatar: str = "", timestamp: str | None = None
) -> dict[str, Any]:
    """Login parameters of an identity signed with SECRET, as the operator's server would sign them."""
    params = {
        "visitor_id": visitor_id,
        "visitor_name": visitor_name,
        "avatar": avatar,
        "timestamp": timestamp or str(int(time.time())),
    }
    params["signature"] = identity_sign(secret=SECRET, **params)
    return params


def refusal(enterprise: Enterprise, **params: Any) -> ChatError:
    with pytest.raises(ChatError) as caught:
        login_visitor(enterprise, **params)
    return caught.value


def test_the_canonical_string_is_the_documented_one():
    message = b"user-42\nLi Lei\n/static/a.png\n1700000000"
    expected = hmac.new(SECRET.encode(), message, hashlib.sha256).hexdigest()
    assert (
        identity_sign(
            secret=SECRET, visitor_id="user-42", visitor_name="Li Lei", avatar="/static/a.png", timestamp="1700000000"
        )
        == expected
    )


def test_a_signed_identity_creates_its_visitor_with_the_signed_name_and_avatar(signed_enterprise):
    result = login_visitor(signed_enterprise, **signed(avatar="/static/img/agent.svg"))
    assert result.created is True
    assert (result.visitor.visitor_id, result.visitor.name) == ("user-42", "Li Lei")
    assert result.visitor.avatar == "/static/img/agent.svg"


def test_a_signed_identity_resumes_the_same_visitor_and_its_messages_on_another_device(signed_enterprise):
    phone = login_visitor(signed_enterprise, **signed())
    message_create(visitor=phone.visitor, sender="visitor", content="from my phone", client_id="p1")
    laptop = login_visitor(signed_enterprise, **signed(visitor_name="Li Lei (laptop)"))
    assert laptop.created is False
    assert laptop.visitor.pk == phone.visitor.pk
    assert Visitor.objects.get(pk=phone.visitor.pk).name == "Li Lei (laptop)"
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Visitor {laptop.token}")
    history = client.get("/api/v1/visitor/messages").json()["messages"]
    assert [m["content"] for m in history] == ["from my phone"]


def test_a_signed_identity_wins_over_another_visitors_token_on_a_shared_device(signed_enterprise):
    first = login_visitor(signed_enterprise, **signed(visitor_id="alice"))
    second = login_visitor(signed_enterprise, token=first.token, **signed(visitor_id="bob"))
    assert second.visitor.visitor_id == "bob" and second.visitor.pk != first.visitor.pk


def test_an_unsigned_login_is_refused_when_the_enterprise_has_a_secret(signed_enterprise):
    assert refusal(signed_enterprise).code == "identity_required"
    bare = refusal(signed_enterprise, visitor_id="user-42", visitor_name="Li Lei")
    assert (bare.code, bare.status) == ("identity_required", 403)
    assert not Visitor.objects.exists()


@pytest.mark.parametrize(
    "forged",
    [
        {"secret": "not-the-secret"},
        {"visitor_id": "user-43"},
        {"visitor_name": "Admin"},
        {"avatar": "/static/img/agent.svg"},
        {"timestamp": "a second earlier"},
        {"signature": "0" * 64},
    ],
)
def test_a_forged_identity_is_refused(signed_enterprise, forged):
    params = signed()
    if "secret" in forged:
        fields = {k: params[k] for k in ("visitor_id", "visitor_name", "avatar", "timestamp")}
        params["signature"] = identity_sign(secret=forged["secret"], **fields)
    elif "timestamp" in forged:
        params["timestamp"] = str(int(params["timestamp"]) - 1)
    else:
        params.update(forged)  # a field changed after signing
    error = refusal(signed_enterprise, **params)
    assert (error.code, error.status) == ("bad_signature", 403)
    assert error.message
    assert not Visitor.objects.exists()


def test_an_expired_identity_is_refused_however_well_signed(signed_enterprise, settings):
    old = str(int(time.time()) - settings.GOFLY["IDENTITY_MAX_SKEW"] - 5)
    future = str(int(time.time()) + settings.GOFLY["IDENTITY_MAX_SKEW"] + 5)
    for timestamp in (old, future):
        error = refusal(signed_enterprise, **signed(timestamp=timestamp))
        assert (error.code, error.status) == ("signature_expired", 403)
    assert not Visitor.objects.exists()


def test_identity_verify_accepts_a_signature_within_the_skew_in_either_case():
    now = 1_700_000_000.0
    params: dict[str, Any] = {"visitor_id": "u1", "visitor_name": "", "avatar": "", "timestamp": "1700000300"}
    signature = identity_sign(secret=SECRET, **params).upper()
    identity = identity_verify(secret=SECRET, signature=signature, now=now, **params)
    assert identity.visitor_id == "u1"


def test_a_line_break_in_a_signed_field_is_refused_since_it_would_make_the_string_ambiguous():
    params: dict[str, Any] = {
        "visitor_id": "u1",
        "visitor_name": "a\nb",
        "avatar": "",
        "timestamp": str(int(time.time())),
    }
    with pytest.raises(ChatError) as caught:
        identity_verify(secret=SECRET, signature=identity_sign(secret=SECRET, **params), **params)
    assert caught.value.code == "bad_signature"


def visitor_messages(token: str) -> Any:
    return APIClient(HTTP_AUTHORIZATION=f"Visitor {token}").get("/api/v1/visitor/messages")


def set_secret(enterprise: Enterprise, secret: str) -> None:
    enterprise.identity_secret = secret
    enterprise.save(update_fields=["identity_secret"])


def test_a_token_issued_before_the_secret_was_set_opens_nothing_once_it_is(enterprise):
    anonymous = login_visitor(enterprise)  # before the operator set a secret
    assert visitor_messages(anonymous.token).status_code == 200
    set_secret(enterprise, SECRET)
    assert refusal(enterprise, token=anonymous.token).code == "identity_required"
    assert visitor_messages(anonymous.token).status_code == 404
    # Tokens issued under the secret work, on every visitor endpoint.
    first = login_visitor(enterprise, **signed())
    assert login_visitor(enterprise, token=first.token).visitor.pk == first.visitor.pk
    assert visitor_messages(first.token).status_code == 200
    fresh = APIClient(HTTP_AUTHORIZATION=f"Visitor {first.token}").post("/api/v1/visitor/token").json()["token"]
    assert visitor_messages(fresh).status_code == 200


def test_a_signed_login_never_resumes_a_visitor_claimed_unsigned_before_the_secret(enterprise, agent):
    # Mallory guesses Alice's id and takes it while the enterprise still runs without a secret.
    mallory = login_visitor(enterprise, visitor_id="alice-42")
    assert mallory.visitor.visitor_id == "alice-42" and not mallory.visitor.identity_verified
    set_secret(enterprise, SECRET)
    alice = login_visitor(enterprise, **signed(visitor_id="alice-42", visitor_name="Alice"))
    assert alice.created and alice.visitor.pk != mallory.visitor.pk
    assert alice.visitor.visitor_id == "alice-42" and alice.visitor.identity_verified
    # Mallory's visitor keeps its history under a fresh id, and her token reads nothing of Alice's.
    set_aside = Visitor.objects.get(pk=mallory.visitor.pk)
    assert set_aside.visitor_id != "alice-42" and len(set_aside.visitor_id) == 32
    message_create(visitor=alice.visitor, sender="visitor", content="my order number is 77", client_id="c-1")
    assert visitor_messages(mallory.token).status_code == 404
    assert [m["content"] for m in visitor_messages(alice.token).json()["messages"]] == ["my order number is 77"]
    # Alice's later signed logins resume her own visitor.
    assert login_visitor(enterprise, **signed(visitor_id="alice-42")).visitor.pk == alice.visitor.pk


def test_rotating_the_secret_ends_the_tokens_issued_under_the_old_one(signed_enterprise):
    first = login_visitor(signed_enterprise, **signed())
    set_secret(signed_enterprise, "a-new-secret")
    assert visitor_messages(first.token).status_code == 404
    assert refusal(signed_enterprise, token=first.token).code == "identity_required"
    params = {"visitor_id": "user-42", "visitor_name": "Li Lei", "avatar": "", "timestamp": str(int(time.time()))}
    # The site signs with the new secret: the same verified visitor, and a token that works.
    again = login_visitor(signed_enterprise, None, **params, signature=identity_sign(secret="a-new-secret", **params))
    assert again.visitor.pk == first.visitor.pk and visitor_messages(again.token).status_code == 200


def test_turning_the_secret_off_keeps_every_token_working(signed_enterprise):
    first = login_visitor(signed_enterprise, **signed())
    set_secret(signed_enterprise, "")
    assert visitor_messages(first.token).status_code == 200
    assert login_visitor(signed_enterprise, token=first.token).visitor.pk == first.visitor.pk


@login_db
async def test_setting_or_rotating_the_secret_closes_the_visitor_sockets_it_ends(enterprise):
    from channels.db import database_sync_to_async

    from chat.frames import CLOSE_UNAUTHENTICATED
    from tests.chat.wsutil import connect_ready, recv, visitor_socket

    anonymous = await database_sync_to_async(login_visitor)(enterprise)
    old = visitor_socket(anonymous.token)
    await connect_ready(old)
    await database_sync_to_async(set_secret)(enterprise, SECRET)
    frame = await recv(old)
    assert frame["type"] == "error" and frame["data"]["code"] == "unauthenticated"
    assert await old.receive_output(timeout=3) == {"type": "websocket.close", "code": CLOSE_UNAUTHENTICATED}
    # The old token cannot open a socket again; one issued under the secret can, and a second save of
    # the same secret leaves it open.
    again = visitor_socket(anonymous.token)
    await again.connect(timeout=5)
    assert (await recv(again))["data"]["code"] == "not_found"
    assert await again.receive_output(timeout=3) == {"type": "websocket.close", "code": CLOSE_UNAUTHENTICATED}
    first = await database_sync_to_async(login_visitor)(enterprise, **signed())
    kept = visitor_socket(first.token)
    await connect_ready(kept)
    await database_sync_to_async(set_secret)(enterprise, SECRET)
    assert await kept.receive_nothing(timeout=0.5)
    await database_sync_to_async(set_secret)(enterprise, "rotated")
    assert (await recv(kept))["data"]["code"] == "unauthenticated"
    await kept.disconnect()


def test_the_page_logging_in_again_after_its_link_expired_resumes_by_its_token(signed_enterprise, settings):
    first = login_visitor(signed_enterprise, **signed())
    settings.GOFLY = {**settings.GOFLY, "IDENTITY_MAX_SKEW": -1}  # every signature has expired now
    again = login_visitor(signed_enterprise, token=first.token, **signed())
    assert again.visitor.pk == first.visitor.pk
    # ...but that token opens no other identity named by an unsigned link.
    assert refusal(signed_enterprise, token=first.token, visitor_id="someone-else").code == "identity_required"


def test_unsigned_names_and_avatars_do_not_rename_a_signed_visitor(signed_enterprise):
    first = login_visitor(signed_enterprise, **signed())
    extra = {"visitorName": "Mallory", "visitorAvatar": "/static/img/agent.svg"}
    login_visitor(signed_enterprise, token=first.token, extra=extra)
    assert Visitor.objects.get(pk=first.visitor.pk).name == "Li Lei"


def test_without_a_secret_nothing_changes_and_a_bare_visitor_id_never_resumes(enterprise):
    first = login_visitor(enterprise, visitor_id="user-42", visitor_name="Li Lei")
    assert first.visitor.visitor_id == "user-42"
    again = login_visitor(enterprise, **signed())  # a signature means nothing without a secret
    assert again.created is True and again.visitor.pk != first.visitor.pk
    assert again.visitor.visitor_id != "user-42"
    assert login_visitor(enterprise).created is True


@login_db
def test_the_api_takes_a_signed_identity_and_resumes_it_without_a_token(signed_enterprise):
    api = APIClient()
    first = api.post("/api/v1/visitor/login", {"ent_id": signed_enterprise.pk, **signed()}, format="json")
    assert first.status_code == 200 and first.json()["created"] is True
    form = api.post("/api/v1/visitor/login", {"ent_id": signed_enterprise.pk, **signed()})
    assert form.status_code == 200 and form.json()["created"] is False
    assert form.json()["visitor"]["visitor_id"] == "user-42"


@login_db
@pytest.mark.parametrize(
    ("override", "status", "code"),
    [
        ({}, 403, "identity_required"),
        ({"signature": "not hex at all"}, 403, "bad_signature"),
        ({"signature": "é" * 64}, 403, "bad_signature"),
        ({"signature": "ab" * 65}, 400, "invalid"),
        ({"timestamp": "99999999999999999999"}, 403, "bad_signature"),
        ({"timestamp": "9" * 40}, 400, "invalid"),
        ({"timestamp": "soon"}, 403, "bad_signature"),
        ({"timestamp": "-1"}, 403, "bad_signature"),
        ({"timestamp": 1e308}, 403, "bad_signature"),
        ({"timestamp": 10**18}, 403, "bad_signature"),
        ({"timestamp": ["1"]}, 400, "invalid"),
        ({"signature": {"a": 1}}, 400, "invalid"),
    ],
)
def test_the_api_refuses_bad_identities_with_a_code_never_a_500(signed_enterprise, override, status, code):
    body: dict[str, Any] = {"ent_id": signed_enterprise.pk}
    if override:
        body.update(signed(), **override)
    response = APIClient().post("/api/v1/visitor/login", json.dumps(body), content_type="application/json")
    assert response.status_code == status, response.content
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]


@login_db
def test_a_well_signed_huge_timestamp_is_expired_not_an_error(signed_enterprise):
    body = {"ent_id": signed_enterprise.pk, **signed(timestamp="99999999999999999999")}
    response = APIClient().post("/api/v1/visitor/login", body, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "signature_expired"


def test_the_chat_page_passes_timestamp_and_signature_on_and_never_the_secret(client, signed_enterprise):
    params = signed()
    response = client.get("/chatIndex", {"ent_id": signed_enterprise.pk, **params})
    page = response.content.decode()
    assert params["signature"] in page and params["timestamp"] in page
    assert SECRET not in page


def test_visitor_ids_that_differ_only_in_case_are_two_visitors(signed_enterprise, agent):
    lower = login_visitor(signed_enterprise, **signed(visitor_id="caseuser-7f3a"))
    message_create(visitor=lower.visitor, sender="visitor", content="only mine", client_id="c-1")
    upper = login_visitor(signed_enterprise, **signed(visitor_id="CaseUser-7F3A"))
    assert upper.created and upper.visitor.pk != lower.visitor.pk
    assert visitor_messages(upper.token).json()["messages"] == []
    # Every lookup by public id is exact, the agents' too.
    from chat.access import access_visitor

    assert access_visitor(agent=agent, visitor_id="caseuser-7f3a").pk == lower.visitor.pk
    assert access_visitor(agent=agent, visitor_id="CaseUser-7F3A").pk == upper.visitor.pk
    with pytest.raises(ChatError):
        access_visitor(agent=agent, visitor_id="CASEUSER-7F3A")


@login_db
async def test_changing_the_secret_from_code_that_runs_an_event_loop_still_closes_the_sockets(enterprise, monkeypatch):
    """A test or script driving an event loop in its own thread (Playwright's sync API does) saves the
    enterprise: the publish cannot use async_to_sync in that thread, and must not fail the save."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "1")  # as the browser tests allow it
    from chat.frames import CLOSE_UNAUTHENTICATED
    from tests.chat.wsutil import connect_ready, recv, visitor_socket

    anonymous = login_visitor(enterprise)
    comm = visitor_socket(anonymous.token)
    await connect_ready(comm)
    set_secret(enterprise, SECRET)  # sync ORM inside the running loop's thread, as such a script does
    assert (await recv(comm))["data"]["code"] == "unauthenticated"
    assert await comm.receive_output(timeout=3) == {"type": "websocket.close", "code": CLOSE_UNAUTHENTICATED}
