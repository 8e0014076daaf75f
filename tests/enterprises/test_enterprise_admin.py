"""Superadmins suspend, resume and delete enterprises in /admin; each act is audited."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import User
from accounts.services import superadmin_create
from chat.models import Message, Visitor
from chat.services import message_create
from enterprises.models import AuditAction, AuditEntry, Enterprise
from tests.conftest import AGENT_PASSWORD, login_visitor

pytestmark = pytest.mark.django_db


@pytest.fixture
def root(db: object) -> Client:
    client = Client()
    client.force_login(superadmin_create(username="root", password=AGENT_PASSWORD))
    return client


def token_status(username: str) -> int:
    answer = APIClient().post("/api/v1/auth/token", {"username": username, "password": AGENT_PASSWORD}, format="json")
    return answer.status_code


def test_a_superadmin_suspends_and_resumes_enterprises_from_the_list(root, enterprise, agent, other_agent):
    action = {"action": "suspend", "_selected_action": [enterprise.pk], "index": 0}
    assert root.post("/admin/enterprises/enterprise/", action).status_code == 302
    assert not Enterprise.objects.get(pk=enterprise.pk).is_active
    assert token_status("kefu2") == 401 and token_status("globex1") == 200  # only the chosen one
    root.post("/admin/enterprises/enterprise/", {**action, "action": "resume"})
    assert Enterprise.objects.get(pk=enterprise.pk).is_active and token_status("kefu2") == 200
    done = list(AuditEntry.objects.filter(enterprise=enterprise).values_list("action", flat=True))
    assert AuditAction.ENTERPRISE_SUSPENDED in done and AuditAction.ENTERPRISE_RESUMED in done
    assert "delete_selected" not in root.get("/admin/enterprises/enterprise/").content.decode()


def test_deleting_an_enterprise_takes_its_name_typed_and_states_what_goes_and_what_remains(
    root, enterprise, agent, other_agent
):
    visitor = login_visitor(enterprise, agent).visitor
    message_create(visitor=visitor, sender="visitor", content="hello", client_id="d1")
    page = root.get(f"/admin/enterprises/enterprise/{enterprise.pk}/delete/").content.decode()
    assert 'id="delete-holdings"' in page

    wrong = root.post(f"/admin/enterprises/enterprise/{enterprise.pk}/delete/", {"name": "acme"})
    assert wrong.status_code == 200 and 'id="delete-error"' in wrong.content.decode()
    assert Enterprise.objects.filter(pk=enterprise.pk).exists()

    answer = root.post(f"/admin/enterprises/enterprise/{enterprise.pk}/delete/", {"name": "Acme"})
    assert answer.status_code == 302
    assert not Enterprise.objects.filter(pk=enterprise.pk).exists()
    assert (
        not Visitor.objects.filter(pk=visitor.pk).exists()
        and not Message.objects.filter(visitor_id=visitor.pk).exists()
    )
    assert not User.objects.filter(username="kefu2").exists()
    assert User.objects.filter(username="globex1").exists()  # another enterprise is untouched
    entry = AuditEntry.objects.get(action=AuditAction.ENTERPRISE_DELETED)
    assert entry.enterprise_id is None and entry.target_name == "Acme"
    assert (
        entry.details["chat.Message"] == 1
        and entry.details["chat.Visitor"] == 1
        and entry.details["accounts.User"] == 1
    )
