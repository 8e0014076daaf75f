"""Registering an enterprise at /register: only when the system configuration allows it, behind a captcha
drawn here and a per-address limit; the new admin lands on the deploy page of a ready enterprise."""

from __future__ import annotations

import re
from typing import Any

import pytest
from captcha.models import CaptchaStore
from django.test import Client

from accounts.models import User
from accounts.permissions import PERMISSIONS, permissions_of
from enterprises.models import AuditAction, AuditEntry, Enterprise, SystemConfig
from enterprises.selectors import system_config_forget
from replies.models import WelcomeText
from tests.conftest import said

pytestmark = pytest.mark.django_db

PASSWORD = "Brand-New-Pass-2033"


@pytest.fixture
def open_registration(db: Any) -> None:
    SystemConfig.objects.create(registration_open=True)
    system_config_forget()


def challenge(client: Client) -> tuple[str, str]:
    """The captcha of a fresh form: its key and its right answer (what the image shows)."""
    page = client.get("/register").content.decode()
    key = re.search(r'name="captcha_0" value="([0-9a-f]+)"', page)
    assert key is not None, page[:2000]
    return key.group(1), CaptchaStore.objects.get(hashkey=key.group(1)).response


def form(key: str, answer: str, **fields: str) -> dict[str, str]:
    return {
        "enterprise_name": "Initech",
        "username": "peter",
        "password1": PASSWORD,
        "password2": PASSWORD,
        "captcha_0": key,
        "captcha_1": answer,
        **fields,
    }


def test_registration_is_closed_unless_the_system_configuration_opens_it(db):
    answer = Client().get("/register")
    assert answer.status_code == 404
    assert (
        said("Registration is closed on this server; ask its administrator for an account.") in answer.content.decode()
    )
    assert Client().post("/register", form("x", "y")).status_code == 404
    assert not Enterprise.objects.filter(name="Initech").exists()


def test_a_wrong_captcha_is_refused_a_right_one_registers_and_a_replayed_one_is_refused(open_registration):
    client = Client()
    key, right = challenge(client)
    page = client.get("/register").content.decode()
    image = re.search(r'src="(/captcha/image/[0-9a-f]+/)"', page)
    assert image is not None
    drawn = client.get(image.group(1))
    assert drawn.status_code == 200 and drawn["Content-Type"] == "image/png"  # drawn here, no outside service

    wrong = client.post("/register", form(key, "nope" if right.lower() != "nope" else "nada"))
    assert wrong.status_code == 400 and not Enterprise.objects.filter(name="Initech").exists()

    key, right = challenge(client)
    answer = client.post("/register", form(key, right))
    assert answer.status_code == 302 and answer["Location"] == "/manage/deploy/"
    enterprise = Enterprise.objects.get(name="Initech")
    admin = User.objects.get(username="peter")
    assert admin.enterprise == enterprise and permissions_of(admin) == list(PERMISSIONS)
    welcomes = WelcomeText.objects.filter(enterprise=enterprise).order_by("position")
    assert [row.language for row in welcomes] == ["zh-hans", "en"]  # each shown to its readers
    assert enterprise.offline_text and enterprise.offline_text_en
    assert client.get("/manage/deploy/").status_code == 200  # logged in, at the deploy page
    assert AuditEntry.objects.filter(action=AuditAction.REGISTERED, enterprise=enterprise, actor=admin).exists()

    replay = Client().post("/register", form(key, right, enterprise_name="Initrode", username="bill"))
    assert replay.status_code == 400 and not Enterprise.objects.filter(name="Initrode").exists()


def test_bad_registrations_are_form_errors_and_create_nothing(open_registration, agent, settings):
    settings.GOFLY = {**settings.GOFLY, "REGISTER_RATE": 100}  # attempts count, refused ones too
    client = Client()
    for fields in (
        {"enterprise_name": "   "},
        {"enterprise_name": "x" * 101},
        {"username": "KEFU2"},  # agent's, once normalised
        {"password2": "different-9"},
        {"password1": "123", "password2": "123"},
        {"username": "nul\x00"},
    ):
        key, right = challenge(client)
        before = (Enterprise.objects.count(), User.objects.count())
        answer = client.post("/register", form(key, right, **fields))
        assert answer.status_code == 400, fields
        assert (Enterprise.objects.count(), User.objects.count()) == before


def test_one_address_registers_a_few_times_an_hour_at_most(open_registration, settings):
    settings.GOFLY = {**settings.GOFLY, "REGISTER_RATE": 2}
    client = Client(REMOTE_ADDR="198.51.100.77")
    for number in range(2):
        key, right = challenge(client)
        answer = client.post("/register", form(key, right, enterprise_name=f"Co {number}", username=f"u{number}"))
        assert answer.status_code == 302
        client = Client(REMOTE_ADDR="198.51.100.77")
    key, right = challenge(client)
    answer = client.post("/register", form(key, right, enterprise_name="Co 3", username="u3"))
    assert answer.status_code == 429 and not Enterprise.objects.filter(name="Co 3").exists()
