"""Browser tests' fixtures: Debian's chromium through Playwright, and a real GoFly server on the test database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.servers import ROOT, gofly_server

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts" / "e2e"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are still sync.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "1")
    from playwright import sync_api

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def server(enterprise: Any, agent: Any) -> Iterator[str]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    # The server keeps Django's async-safety checks, whatever this process allows itself.
    with gofly_server(env={"DJANGO_ALLOW_ASYNC_UNSAFE": ""}, log=ARTIFACTS / "server.log") as base:
        yield base
