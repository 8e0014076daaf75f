"""Fixtures of the replies tests: the enterprise admin who manages rules and welcome texts."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.permissions import ROLE_ENTERPRISE_ADMIN
from accounts.services import agent_create, roles_ensure
from tests.conftest import AGENT_PASSWORD


@pytest.fixture
def admin(enterprise: Any) -> Any:
    roles_ensure()
    return agent_create(
        enterprise=enterprise, username="boss", password=AGENT_PASSWORD, nickname="Boss", role=ROLE_ENTERPRISE_ADMIN
    )
