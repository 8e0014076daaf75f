"""Shared fixtures: enterprises, agents, visitors, clean presence and rate limits for every test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
from asgiref.sync import async_to_sync

from accounts.models import User
from accounts.services import agent_create, roles_ensure
from chat.realtime import broadcast, heartbeat, lifecycle
from chat.realtime.presence import get_presence
from chat.services import VisitorLogin, visitor_login
from core import health
from core.ratelimit import rate_limits_clear
from enterprises.models import Enterprise, IPBlacklist
from enterprises.selectors import system_config_forget
from enterprises.services import enterprise_create
from replies import cache as replies_cache
from replies.services import welcome_text_seed

AGENT_PASSWORD = "agent-pass-123"
# Server processes that tests start inherit this and so accept the fast hashes the fixtures write.
os.environ["GOFLY_TEST_FAST_HASHER"] = "1"


@pytest.fixture(scope="session", autouse=True)
def _static_files() -> None:
    """Pages name their scripts by the hashed names of STATIC_ROOT's manifest ($GOFLY_VAR_DIR/staticfiles),
    which server processes the tests start serve too: collected once per var dir (one worker at a time), and
    again only when a static file changed (gofly_site/staticfiles.py)."""
    from gofly_site.staticfiles import collect_if_stale

    collect_if_stale()


@pytest.fixture(autouse=True)
def _clean_state(settings: Any) -> Iterator[None]:
    """Presence and rate limits live outside the database, so each test starts them empty."""
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]
    async_to_sync(get_presence().clear)()
    heartbeat._local.clear()
    replies_cache.reset()
    health.reset()
    lifecycle.reset()
    rate_limits_clear()
    system_config_forget()  # cached across requests: each test reads its own database's
    # Failed logins stay counted in the cache between tests, all from one address: no captcha unless a test
    # asks for one (tests/accounts/test_login_captcha.py, with addresses of its own).
    settings.GOFLY = {**settings.GOFLY, "LOGIN_CAPTCHA_AFTER": 1_000_000}
    yield


@pytest.fixture
def enterprise(db: Any) -> Enterprise:
    created = enterprise_create(name="Acme", offline_text="We are away.")
    welcome_text_seed(enterprise=created, content="Welcome to Acme!")  # its welcome screen's one row
    return created


@pytest.fixture
def other_enterprise(db: Any) -> Enterprise:
    created = enterprise_create(name="Globex")
    welcome_text_seed(enterprise=created, content="Globex here.")
    return created


@pytest.fixture
def agent(enterprise: Enterprise) -> User:
    roles_ensure()
    return agent_create(enterprise=enterprise, username="kefu2", password=AGENT_PASSWORD, nickname="Alice")


@pytest.fixture
def second_agent(enterprise: Enterprise, agent: User) -> User:
    return agent_create(enterprise=enterprise, username="kefu3", password=AGENT_PASSWORD, nickname="Bob")


@pytest.fixture
def other_agent(other_enterprise: Enterprise) -> User:
    roles_ensure()
    return agent_create(enterprise=other_enterprise, username="globex1", password=AGENT_PASSWORD, nickname="Gil")


def said(text: str) -> str:
    """`text` as the server says it to a client that names no language: in the default one (zh-hans)."""
    from django.conf import settings
    from django.utils import translation

    with translation.override(settings.LANGUAGE_CODE):
        return translation.gettext(text)


def login_visitor(enterprise: Enterprise, agent: User | None = None, **overrides: Any) -> VisitorLogin:
    params: dict[str, Any] = {
        "enterprise_id": enterprise.pk,
        "kefu_id": agent.username if agent else None,
        "token": None,
        "visitor_id": None,
        "visitor_name": None,
        "avatar": None,
        "ip": "203.0.113.7",
        "user_agent": "Mozilla/5.0 (X11; Linux x86_64) pytest",
        "referrer": "https://shop.example.com/item/1",
        "landing_page": "https://shop.example.com/",
        "extra": None,
    }
    params.update(overrides)
    return visitor_login(**params)


def address_block(*, enterprise: Enterprise, ip: str, reason: str = "") -> IPBlacklist:
    """An address or network on the enterprise's blacklist, written as the admin does (the row normalises
    the network as it saves); blacklist.services.ip_block is the agents' way, with its checks."""
    return IPBlacklist.objects.create(enterprise=enterprise, network=ip, reason=reason)


@pytest.fixture
def visitor_login_result(enterprise: Enterprise, agent: User) -> VisitorLogin:
    return login_visitor(enterprise, agent)


@pytest.fixture
def server_database(db: Any) -> None:
    """Server processes of a multi-node test share the test database: MariaDB, not SQLite's file."""
    from django.db import connection

    from tests.servers import LIVE_ARTIFACTS

    if connection.vendor == "sqlite":
        pytest.skip("the multi-node setup runs on MariaDB")
    LIVE_ARTIFACTS.mkdir(parents=True, exist_ok=True)


@pytest.fixture
def published() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Every (group, frame) published from here on, in order (with transactions that commit for real)."""
    sent: list[tuple[str, dict[str, Any]]] = []

    async def record(layer: Any, items: list[tuple[str, dict[str, Any]]]) -> None:
        sent.extend((group, event["frame"]) for group, event in items)

    with mock.patch.object(broadcast, "group_send_many", record):
        yield sent


@pytest.fixture
def english_platform() -> Iterator[None]:
    """The platform's default language English: what is written for every reader in it (a WeChat delivery's
    reason, what arrived from WeChat) is then read in English by the tests."""
    from enterprises.models import SystemConfig
    from enterprises.selectors import system_config_forget

    config = SystemConfig.objects.first() or SystemConfig()
    config.default_language = "en"
    config.save()
    system_config_forget()
    yield
    system_config_forget()
