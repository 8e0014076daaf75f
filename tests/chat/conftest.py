"""Fixtures of the chat tests: an enterprise admin beside the enterprise's agent."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.permissions import ROLE_ENTERPRISE_ADMIN
from accounts.services import agent_create
from tests.conftest import AGENT_PASSWORD


@pytest.fixture
def boss(enterprise: Any, agent: Any) -> Any:
    return agent_create(
        enterprise=enterprise, username="boss", password=AGENT_PASSWORD, nickname="Boss", role=ROLE_ENTERPRISE_ADMIN
    )
