"""System announcements: superadmins publish them in /admin to every enterprise or chosen ones; agents see
theirs on the console, newest first, with unread marks, pushed live."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import User
from accounts.permissions import ROLE_ENTERPRISE_ADMIN
from accounts.services import agent_create, superadmin_create
from core.errors import ChatError
from notices.announcements import announcement_delete, announcement_save
from notices.models import Announcement
from tests.chat.test_consumers import jwt_for
from tests.chat.wsutil import agent_socket, connect_ready, recv_type
from tests.conftest import AGENT_PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def root(db: Any) -> User:
    return superadmin_create(username="root", password=AGENT_PASSWORD)


def api(user: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(User.objects.get(pk=user.pk))
    return client


def listed(user: User) -> dict[str, Any]:
    answer = api(user).get("/api/v1/agent/announcements")
    assert answer.status_code == 200
    return dict(answer.json())


def test_a_superadmin_publishes_in_admin_and_every_enterprises_agents_see_it_unread_until_they_read_it(
    root, agent, other_agent
):
    client = Client()
    client.force_login(root)
    answer = client.post(
        "/admin/notices/announcement/add/",
        {"title": "Maintenance tonight", "content": "<p>From <b>23:00</b><script>alert(1)</script></p>"},
    )
    assert answer.status_code == 302, answer.content.decode()[:3000]
    for user in (agent, other_agent):
        data = listed(user)
        assert data["unread"] == 1
        [item] = data["announcements"]
        assert item["title"] == "Maintenance tonight" and item["read"] is False
        assert item["content"] == "<p>From <b>23:00</b></p>"  # sanitised: the script is gone with its text
    assert api(agent).post(f"/api/v1/agent/announcements/{item['id']}/read").status_code == 200
    assert listed(agent)["unread"] == 0 and listed(other_agent)["unread"] == 1


def test_an_announcement_for_chosen_enterprises_stays_out_of_the_others_and_expired_ones_go(
    root, enterprise, agent, other_agent
):
    mine = announcement_save(author=root, title="For Acme", content="Hello Acme", enterprise_ids=[enterprise.pk])
    later = announcement_save(author=root, title="Newer", content="Second")
    assert [item["title"] for item in listed(agent)["announcements"]] == ["Newer", "For Acme"]
    assert [item["title"] for item in listed(other_agent)["announcements"]] == ["Newer"]
    # Another enterprise's announcement answers exactly like a missing one.
    foreign = api(other_agent).post(f"/api/v1/agent/announcements/{mine.pk}/read")
    missing = api(other_agent).post("/api/v1/agent/announcements/999999/read")
    assert (foreign.status_code, foreign.json()) == (missing.status_code, missing.json()) and foreign.status_code == 404
    Announcement.objects.filter(pk=later.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert [item["title"] for item in listed(other_agent)["announcements"]] == []


def test_only_superadmins_publish_and_bad_input_is_refused(root, enterprise, agent):
    boss = agent_create(enterprise=enterprise, username="boss", password=AGENT_PASSWORD, role=ROLE_ENTERPRISE_ADMIN)
    with pytest.raises(ChatError) as refused:
        announcement_save(author=boss, title="Mine", content="x")
    assert refused.value.code == "forbidden"
    client = Client()
    client.force_login(boss)
    assert client.get("/admin/notices/announcement/add/").status_code == 302  # /admin is the platform's
    for title, content, until in (
        ("", "text", None),
        ("x" * 201, "text", None),
        ("Empty", "<script>only()</script>", None),
        ("Past", "text", timezone.now() - timedelta(minutes=1)),
        ("Big", "x" * 20001, None),
    ):
        with pytest.raises(ChatError):
            announcement_save(author=root, title=title, content=content, expires_at=until)
    with pytest.raises(ChatError):
        announcement_save(author=root, title="Nowhere", content="x", enterprise_ids=[10**9])
    assert not Announcement.objects.exists()
    assert APIClient().get("/api/v1/agent/announcements").status_code in (401, 403)


async def test_an_announcement_reaches_the_open_consoles_it_is_for_live_and_a_deletion_withdraws_it(
    root, enterprise, agent, other_agent
):
    acme, globex = agent_socket(jwt=jwt_for(agent)), agent_socket(jwt=jwt_for(other_agent))
    await connect_ready(acme)
    await connect_ready(globex)
    try:
        saved = await database_sync_to_async(announcement_save)(
            author=root, title="Acme only", content="Hi", enterprise_ids=[enterprise.pk]
        )
        pushed = await recv_type(acme, "announcement")
        assert (pushed["announcement"]["id"], pushed["announcement"]["title"]) == (saved.pk, "Acme only")
        # Globex hears nothing of it; it does hear the next one, for everybody.
        await database_sync_to_async(announcement_save)(author=root, title="All", content="Hi all")
        assert (await recv_type(globex, "announcement"))["announcement"]["title"] == "All"
        assert (await recv_type(acme, "announcement"))["announcement"]["title"] == "All"
        await database_sync_to_async(announcement_delete)(author=root, announcement_id=saved.pk)
        assert (await recv_type(acme, "announcement.withdrawn"))["id"] == saved.pk
        assert await globex.receive_nothing(timeout=0.5)  # it never had it
    finally:
        await acme.disconnect()
        await globex.disconnect()
