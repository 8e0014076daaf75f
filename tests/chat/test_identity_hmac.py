"""Signed visitor identities: an enterprise's identity secret, HMAC-signed links, refusals and resumes."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import pytest
from rest_framework.test import APIClient

from chat.errors import ChatError
from chat.identity import identity_sign, identity_verify
from chat.models import Visitor
from chat.services import message_create
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


def test_a_token_alone_still_resumes_its_visitor_when_the_enterprise_has_a_secret(enterprise):
    anonymous = login_visitor(enterprise)  # before the operator set a secret
    enterprise.identity_secret = SECRET
    enterprise.save(update_fields=["identity_secret"])
    again = login_visitor(enterprise, token=anonymous.token)
    assert again.visitor.pk == anonymous.visitor.pk and again.created is False
    first = login_visitor(enterprise, **signed())
    later = login_visitor(enterprise, token=first.token)
    assert later.visitor.pk == first.visitor.pk


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
