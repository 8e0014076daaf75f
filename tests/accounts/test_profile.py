"""An agent's own profile (name, avatar, console language) and password, at /account."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import User
from accounts.services import superadmin_create
from enterprises.models import AuditAction, AuditEntry
from tests.conftest import AGENT_PASSWORD, said

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "Another-Pass-2032"


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(User.objects.get(pk=user.pk))
    return client


def save_profile(client: Client, **fields: str) -> Any:
    form = {"form": "profile", "nickname": "Alice", "avatar": "/static/img/agent.svg", "language": "", **fields}
    return client.post("/account", form)


def test_an_agent_sets_their_name_avatar_and_console_language_which_follows_them_to_the_next_login(agent):
    client = signed_in(agent)
    answer = save_profile(client, nickname="Alice W.", avatar="https://cdn.example.com/a.png", language="en")
    assert answer.status_code == 302
    assert answer.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    stored = User.objects.get(pk=agent.pk)
    assert (stored.nickname, stored.avatar, stored.language) == ("Alice W.", "https://cdn.example.com/a.png", "en")
    assert '<html lang="en">' in client.get("/console").content.decode()

    # A fresh browser (no cookie yet) gets the language with the login.
    fresh = Client()
    login = fresh.post("/login", {"username": "kefu2", "password": AGENT_PASSWORD})
    assert login.status_code == 302 and login.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    assert '<html lang="en">' in fresh.get("/console").content.decode()

    # No choice: the cookie goes, and the browser's Accept-Language decides again.
    answer = save_profile(client, language="")
    assert answer.cookies[settings.LANGUAGE_COOKIE_NAME].value == ""
    page = Client(HTTP_ACCEPT_LANGUAGE="zh-CN")
    page.force_login(User.objects.get(pk=agent.pk))
    assert '<html lang="zh-hans">' in page.get("/console").content.decode()


def test_bad_profile_input_is_a_form_error_and_changes_nothing(agent):
    client = signed_in(agent)
    for fields in (
        {"avatar": "javascript:alert(1)"},
        {"avatar": "x" * 400},
        {"nickname": "n" * 60},
        {"nickname": "nul\x00"},
        {"language": "fr"},
    ):
        answer = save_profile(client, **fields)
        assert answer.status_code == 400, fields
        assert "field__error" in answer.content.decode(), fields
    stored = User.objects.get(pk=agent.pk)
    assert (stored.nickname, stored.avatar, stored.language) == ("Alice", "/static/img/agent.svg", "")


def test_a_password_change_needs_the_old_one_keeps_this_session_and_ends_the_tokens(agent):
    client = signed_in(agent)
    access = (
        APIClient()
        .post("/api/v1/auth/token", {"username": "kefu2", "password": AGENT_PASSWORD}, format="json")
        .json()["access"]
    )
    wrong = client.post(
        "/account",
        {"form": "password", "old_password": "not-it", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert wrong.status_code == 400 and User.objects.get(pk=agent.pk).check_password(AGENT_PASSWORD)
    weak = client.post(
        "/account", {"form": "password", "old_password": AGENT_PASSWORD, "new_password1": "123", "new_password2": "123"}
    )
    assert weak.status_code == 400 and User.objects.get(pk=agent.pk).check_password(AGENT_PASSWORD)

    answer = client.post(
        "/account",
        {
            "form": "password",
            "old_password": AGENT_PASSWORD,
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
    )
    assert answer.status_code == 302
    assert User.objects.get(pk=agent.pk).check_password(NEW_PASSWORD)
    assert client.get("/console").status_code == 200  # this session stays
    assert APIClient(HTTP_AUTHORIZATION=f"Bearer {access}").get("/api/v1/agent/me").status_code == 401
    [entry] = AuditEntry.objects.filter(action=AuditAction.PASSWORD_CHANGED)
    assert (entry.actor_id, entry.address) == (agent.pk, "127.0.0.1")


def test_the_page_is_for_agents_only(agent):
    answer = Client().get("/account")
    assert answer.status_code == 302 and answer["Location"].startswith("/login")
    root = superadmin_create(username="root", password=AGENT_PASSWORD)
    refused = signed_in(root).get("/account")
    assert refused.status_code == 403
    assert said("This page is for agents; superadmins work in /admin.") in refused.content.decode()
    assert 'id="account-open"' in signed_in(agent).get("/console").content.decode()
