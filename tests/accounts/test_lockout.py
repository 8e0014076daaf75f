"""Login throttling: wrong passwords lock out an account and an address, on the JWT endpoint and the console."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client

from accounts.services import roles_ensure, superadmin_create
from tests.conftest import AGENT_PASSWORD

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token"


@pytest.fixture(autouse=True)
def _small_limits(settings: Any) -> None:
    settings.AXES_FAILURE_LIMIT = 3
    settings.AXES_COOLOFF_TIME = timedelta(seconds=600)


def jwt_login(username: str, password: str, ip: str = "198.51.100.1") -> Any:
    return Client(REMOTE_ADDR=ip, HTTP_ACCEPT_LANGUAGE="en").post(
        TOKEN_URL, {"username": username, "password": password}, content_type="application/json"
    )


def test_the_jwt_endpoint_locks_an_account_out_after_repeated_wrong_passwords_and_refuses_the_right_one(agent):
    assert [jwt_login("kefu2", "wrong").status_code for _ in range(2)] == [401, 401]
    third = jwt_login("kefu2", "wrong")
    assert third.status_code == 429
    assert third.json()["error"]["code"] == "locked_out"
    assert "try again in 10 minutes" in third.json()["error"]["message"]
    assert third["Retry-After"] == "600"

    right = jwt_login("kefu2", AGENT_PASSWORD)
    assert right.status_code == 429
    assert right.json()["error"]["code"] == "locked_out"
    assert "access" not in right.json()


def test_an_account_is_locked_out_even_when_the_attempts_come_from_many_addresses(agent):
    for n in range(3):
        jwt_login("kefu2", "wrong", ip=f"198.51.100.{10 + n}")
    assert jwt_login("kefu2", AGENT_PASSWORD, ip="198.51.100.99").status_code == 429


def test_changing_the_case_of_the_username_does_not_buy_more_attempts(agent):
    for name in ("KEFU2", "Kefu2", "kefU2"):
        jwt_login(name, "wrong", ip=f"198.51.100.{len(name) + ord(name[0])}")
    assert jwt_login("kefu2", AGENT_PASSWORD, ip="198.51.100.200").status_code == 429


def test_an_address_that_guesses_at_many_accounts_is_locked_out_for_every_account(agent, second_agent):
    for name in ("alice", "bob", "carol"):
        jwt_login(name, "wrong", ip="203.0.113.50")
    assert jwt_login("kefu3", AGENT_PASSWORD, ip="203.0.113.50").status_code == 429
    # Other addresses and the accounts themselves are untouched.
    assert jwt_login("kefu3", AGENT_PASSWORD, ip="203.0.113.51").status_code == 200


def test_a_successful_login_below_the_limit_is_answered_normally(agent):
    jwt_login("kefu2", "wrong")
    response = jwt_login("kefu2", AGENT_PASSWORD)
    assert response.status_code == 200
    assert "access" in response.json()


def test_the_lock_out_expires(agent, settings):
    settings.AXES_COOLOFF_TIME = timedelta(seconds=1)
    for _ in range(3):
        jwt_login("kefu2", "wrong")
    assert jwt_login("kefu2", AGENT_PASSWORD).status_code == 429
    time.sleep(1.3)
    assert jwt_login("kefu2", AGENT_PASSWORD).status_code == 200


def console_login(client: Client, password: str) -> Any:
    return client.post("/login", {"username": "kefu2", "password": password})


def test_the_console_login_page_locks_out_with_a_clear_message_and_status_429(agent):
    client = Client(REMOTE_ADDR="198.51.100.7", HTTP_ACCEPT_LANGUAGE="en")
    assert console_login(client, "wrong").status_code == 200  # the form again, "wrong password"
    console_login(client, "wrong")
    locked = console_login(client, "wrong")
    assert locked.status_code == 429
    assert locked["Retry-After"] == "600"
    assert "Too many failed logins" in locked.content.decode()

    right = console_login(client, AGENT_PASSWORD)
    assert right.status_code == 429
    assert "_auth_user_id" not in client.session
    assert client.get("/console").status_code == 302  # still sent to the login page


def test_failures_on_the_console_and_the_jwt_endpoint_add_up(agent):
    client = Client(REMOTE_ADDR="198.51.100.8")
    console_login(client, "wrong")
    console_login(client, "wrong")
    assert jwt_login("kefu2", "wrong", ip="198.51.100.9").status_code == 429


def test_the_admin_login_is_throttled_too_and_says_so(agent):
    roles_ensure()
    superadmin_create(username="root", password=AGENT_PASSWORD)
    client = Client(REMOTE_ADDR="198.51.100.20", HTTP_ACCEPT_LANGUAGE="en")
    for _ in range(3):
        client.post("/admin/login/", {"username": "root", "password": "wrong"})
    response = client.post("/admin/login/?next=/admin/", {"username": "root", "password": AGENT_PASSWORD})
    assert "Too many failed logins" in response.content.decode()
    assert "_auth_user_id" not in client.session
