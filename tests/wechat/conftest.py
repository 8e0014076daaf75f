"""Fixtures of the WeChat tests: a fake WeChat server the client talks to, an enterprise admin, and the
enterprise's official account configured for the fake (tests/wechat/fakeserver.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.fernet import Fernet

from accounts.models import User
from accounts.permissions import ROLE_ENTERPRISE_ADMIN
from accounts.services import agent_create
from enterprises.models import Enterprise
from tests.conftest import AGENT_PASSWORD
from wechat.models import MessageMode, WechatAccount
from wechat.secrets import KEYS_ENV
from wechat.services import wechat_account_save

from .fakeserver import FakeWechat


@pytest.fixture
def fake_wechat(settings: Any) -> Iterator[FakeWechat]:
    """A fake WeChat on 127.0.0.1 (a new account, so new token cache keys, per test); the client's bases point
    at it and its timeout is short, so that a slow answer costs the test little."""
    fake = FakeWechat().start()
    settings.GOFLY_WECHAT_API_BASE = fake.api_base
    settings.GOFLY_WECHAT_OAUTH_BASE = fake.oauth_base
    settings.GOFLY_WECHAT_OPEN_BASE = fake.open_base
    settings.GOFLY_WECHAT_MP_BASE = fake.mp_base
    settings.GOFLY_WECHAT_TIMEOUT = 2
    try:
        yield fake
    finally:
        fake.stop()
    assert fake.errors == [], fake.errors[0]


@pytest.fixture
def wechat_keys(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """GOFLY_WECHAT_KEYS set to two fresh keys (the first encrypts); a test may set it again."""
    keys = [Fernet.generate_key().decode(), Fernet.generate_key().decode()]
    monkeypatch.setenv(KEYS_ENV, ",".join(keys))
    return keys


@pytest.fixture
def wechat_boss(enterprise: Enterprise, agent: User) -> User:
    """An admin of `enterprise` (who may change its settings), beside its plain agent `agent`."""
    return agent_create(
        enterprise=enterprise, username="wxboss", password=AGENT_PASSWORD, nickname="Boss", role=ROLE_ENTERPRISE_ADMIN
    )


@pytest.fixture
def wechat_account(fake_wechat: FakeWechat, wechat_boss: User) -> WechatAccount:
    """`enterprise`'s official account, enabled in safe mode, with the fake's credentials."""
    known = fake_wechat.account
    return wechat_account_save(
        actor=wechat_boss,
        app_id=known.app_id,
        app_secret=known.app_secret,
        token=known.token,
        encoding_aes_key=known.encoding_aes_key,
        message_mode=MessageMode.SAFE,
        greeting="欢迎关注！",
        greeting_en="Welcome!",
        is_enabled=True,
    )
