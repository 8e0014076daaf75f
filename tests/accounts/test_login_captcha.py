"""After a few failed logins of an account or from a network, the console's and /admin's login forms ask
for a captcha too, on top of the lock-out (accounts.lockout)."""

from __future__ import annotations

import re
from itertools import count
from typing import Any

import pytest
from captcha.models import CaptchaStore
from django.test import Client

from accounts.models import User
from accounts.services import agent_create, superadmin_create
from enterprises.models import AuditAction, AuditEntry
from tests.conftest import AGENT_PASSWORD

pytestmark = pytest.mark.django_db

_addresses = count(10)


@pytest.fixture(autouse=True)
def _captcha_after_three(settings: Any) -> None:
    settings.GOFLY = {**settings.GOFLY, "LOGIN_CAPTCHA_AFTER": 3}


def browser() -> Client:
    """A browser on an address of its own: counts left by other tests do not reach it."""
    return Client(REMOTE_ADDR=f"192.0.2.{next(_addresses) % 250}")


def captcha_of(page: str) -> tuple[str, str] | None:
    key = re.search(r'name="captcha_0" value="([0-9a-f]+)"', page)
    return None if key is None else (key.group(1), CaptchaStore.objects.get(hashkey=key.group(1)).response)


def test_three_wrong_passwords_put_a_captcha_in_front_of_the_account_and_only_a_right_one_lets_the_owner_in(enterprise):
    agent_create(enterprise=enterprise, username="carla", password=AGENT_PASSWORD)
    guesser = browser()
    assert captcha_of(guesser.get("/login").content.decode()) is None
    for _ in range(3):
        page = guesser.post("/login", {"username": "carla", "password": "wrong"}).content.decode()
    assert captcha_of(page) is not None  # shown with the third failure's answer already

    owner = browser()  # another network: the account's count holds there too
    page = owner.post("/login", {"username": "carla", "password": AGENT_PASSWORD}).content.decode()
    challenge = captcha_of(page)
    assert challenge is not None and "_auth_user_id" not in owner.session
    failures = AuditEntry.objects.filter(action=AuditAction.LOGIN_FAILED).count()
    # A wrong captcha is refused before the password is looked at: no failure counted.
    page = owner.post(
        "/login", {"username": "carla", "password": AGENT_PASSWORD, "captcha_0": challenge[0], "captcha_1": "zzzzz"}
    ).content.decode()
    assert "_auth_user_id" not in owner.session
    assert AuditEntry.objects.filter(action=AuditAction.LOGIN_FAILED).count() == failures
    key, answer = captcha_of(page) or ("", "")
    done = owner.post(
        "/login", {"username": "carla", "password": AGENT_PASSWORD, "captcha_0": key, "captcha_1": answer}
    )
    assert done.status_code == 302 and owner.session["_auth_user_id"] == str(User.objects.get(username="carla").pk)
    # The account's count started over: the next login needs no captcha.
    assert captcha_of(browser().post("/login", {"username": "carla", "password": "wrong"}).content.decode()) is None


def test_the_admin_login_asks_for_a_captcha_after_three_failures_from_a_network(db):
    superadmin_create(username="root", password=AGENT_PASSWORD)
    client = browser()
    for name in ("a1", "a2", "a3"):
        client.post("/admin/login/", {"username": name, "password": "wrong"})
    page = client.get("/admin/login/").content.decode()
    challenge = captcha_of(page)
    assert challenge is not None
    refused = client.post("/admin/login/", {"username": "root", "password": AGENT_PASSWORD})
    assert refused.status_code == 200 and "_auth_user_id" not in client.session
    key, answer = captcha_of(refused.content.decode()) or ("", "")
    done = client.post(
        "/admin/login/", {"username": "root", "password": AGENT_PASSWORD, "captcha_0": key, "captcha_1": answer}
    )
    assert done.status_code == 302
