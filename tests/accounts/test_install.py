"""`manage.py install`: default data once, never a silent wipe."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts.models import RoleGroup, User
from accounts.permissions import PERMISSIONS, permissions_of
from chat.models import Visitor
from enterprises.models import Enterprise
from replies.models import WelcomeText
from tests.conftest import login_visitor

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path


def install(*args: str) -> str:
    out = StringIO()
    call_command("install", *args, stdout=out)
    return out.getvalue()


def test_install_creates_roles_a_superadmin_and_a_demo_enterprise_with_an_agent_and_an_admin(settings, monkeypatch):
    monkeypatch.setenv("GOFLY_AGENT_PASSWORD", "demo-agent-pass")
    monkeypatch.setenv("GOFLY_MANAGER_PASSWORD", "demo-boss-pass")
    output = install("--noinput")
    assert set(RoleGroup.objects.values_list("slug", flat=True)) == {"enterprise_admin", "agent"}
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.enterprise is None and not admin.groups.exists()
    agent = User.objects.get(username="kefu2")
    assert agent.check_password("demo-agent-pass") and agent.is_agent
    assert list(agent.groups.values_list("role__slug", flat=True)) == ["agent"]
    assert permissions_of(agent) == ["take", "transfer", "close", "block"]
    enterprise = Enterprise.objects.get()
    assert f"/chatIndex?kefu_id=kefu2&ent_id={enterprise.pk}" in output
    assert "kefu2 / demo-agent-pass" in output
    # The demo's enterprise admin shows the routing settings, tags, "clear history" and /manage/.
    boss = User.objects.get(username="boss")
    assert boss.check_password("demo-boss-pass") and boss.enterprise == enterprise
    assert permissions_of(boss) == list(PERMISSIONS)
    assert "boss / demo-boss-pass   (/login, /manage/)" in output
    # Its welcome and offline texts in each language, not one bilingual string for both.
    welcomes = dict(WelcomeText.objects.filter(enterprise=enterprise).values_list("language", "content"))
    assert welcomes == {"zh-hans": "您好，欢迎咨询！有什么可以帮您？", "en": "Hello, how can we help you?"}
    assert (enterprise.offline_text_in("en"), enterprise.offline_text_in("zh-hans")) == (
        "We are away; leave a message and we will reply soon.",
        "客服暂时不在线，请留言，我们会尽快回复。",
    )
    assert (settings.VAR_DIR / "credentials.txt").stat().st_mode & 0o077 == 0


def test_install_refuses_to_wipe_existing_data_without_force():
    install("--noinput")
    visitor = login_visitor(Enterprise.objects.get()).visitor
    with pytest.raises(CommandError, match="refusing"):
        install("--noinput")
    assert Visitor.objects.filter(pk=visitor.pk).exists()


def test_install_if_missing_leaves_an_installation_alone():
    install("--noinput")
    before = User.objects.get(username="kefu2").password
    assert "Already installed" in install("--noinput", "--if-missing")
    assert User.objects.get(username="kefu2").password == before


# On MariaDB the flush is TRUNCATE, which commits: only a transactional test can put the database back.
@pytest.mark.django_db(transaction=True)
def test_install_force_starts_afresh():
    install("--noinput")
    login_visitor(Enterprise.objects.get())
    install("--noinput", "--force")
    assert Visitor.objects.count() == 0
    assert User.objects.filter(username="kefu2").count() == 1
    assert permissions_of(User.objects.get(username="kefu2")) == ["take", "transfer", "close", "block"]


def test_install_if_missing_says_where_the_credentials_are_but_never_prints_the_passwords_again(monkeypatch):
    monkeypatch.setenv("GOFLY_AGENT_PASSWORD", "demo-agent-pass")
    assert "demo-agent-pass" in install("--noinput")
    again = install("--noinput", "--if-missing")
    assert "demo-agent-pass" not in again
    assert "credentials.txt" in again
