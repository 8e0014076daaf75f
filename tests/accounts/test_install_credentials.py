"""var/credentials.txt: a second install (another database, or --force) adds its logins, never loses the first."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db(transaction=True)  # the second install flushes, which commits on MariaDB


@pytest.fixture(autouse=True)
def _var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path


def install(*args: str) -> str:
    out = StringIO()
    call_command("install", *args, stdout=out)
    return out.getvalue()


def test_a_second_install_keeps_the_first_credentials_and_says_so(settings, monkeypatch):
    path = settings.VAR_DIR / "credentials.txt"
    monkeypatch.setenv("GOFLY_AGENT_PASSWORD", "first-agent-pass")
    first = install("--noinput")
    assert "already held credentials" not in first
    first_text = path.read_text()
    assert "kefu2 / first-agent-pass" in first_text
    # The header names the database the logins belong to, never its password.
    header = first_text.splitlines()[0]
    assert header.startswith("# ") and "database" in header and settings.DATABASES["default"]["NAME"] in header
    password = settings.DATABASES["default"].get("PASSWORD")
    assert not password or f":{password}@" not in header  # user@host/name, as a URL would be without it

    # A clone switched to another database installs again (here: the same one, wiped).
    monkeypatch.setenv("GOFLY_AGENT_PASSWORD", "second-agent-pass")
    second = install("--noinput", "--force")
    text = path.read_text()
    assert text.startswith(first_text)  # the first credentials, untouched
    assert text.index("first-agent-pass") < text.index("second-agent-pass")
    assert text.count("# ") == 2
    assert "already held credentials" in second and "were kept" in second
    assert path.stat().st_mode & 0o077 == 0


def test_credentials_written_by_an_older_version_are_kept_too(settings):
    path = settings.VAR_DIR / "credentials.txt"
    path.write_text("superadmin   admin / old-admin-pass   (/admin)")  # the old format: no header, no newline
    install("--noinput")
    text = path.read_text()
    assert text.startswith("superadmin   admin / old-admin-pass   (/admin)\n\n# ")
    assert "agent        kefu2 / " in text
