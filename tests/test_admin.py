"""The Django admin works for the superadmin and only for staff."""

from __future__ import annotations

import pytest

from accounts.services import roles_ensure, superadmin_create
from chat.services import message_create
from tests.conftest import AGENT_PASSWORD, login_visitor

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path",
    [
        "/admin/",
        "/admin/accounts/user/",
        "/admin/auth/group/",
        "/admin/enterprises/enterprise/",
        "/admin/enterprises/ipblacklist/",
        "/admin/chat/visitor/",
        "/admin/chat/message/",
    ],
)
def test_the_superadmin_can_open_every_admin_list(client, enterprise, agent, path):
    roles_ensure()
    superadmin_create(username="root", password=AGENT_PASSWORD)
    visitor = login_visitor(enterprise, agent).visitor
    message_create(visitor=visitor, sender="visitor", content="hello", client_id="c")
    client.login(username="root", password=AGENT_PASSWORD)
    response = client.get(path)
    assert response.status_code == 200


def test_an_agent_cannot_use_the_admin(client, agent):
    client.login(username="kefu2", password=AGENT_PASSWORD)
    response = client.get("/admin/chat/message/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


@pytest.mark.django_db(transaction=True)
def test_an_oversized_request_body_is_refused_without_a_500(client):
    response = client.post("/api/v1/visitor/login", "x" * (3 * 1024 * 1024), content_type="application/json")
    assert response.status_code in {400, 413}
