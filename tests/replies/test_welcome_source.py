"""One source of welcome texts, the WelcomeText rows: what the console's welcome screen lists is what every
visitor answer carries (login, the socket's `ready`, the widget), and an upgrade turns each enterprise's old
`welcome_text` into a row, so the screen never says "none" while visitors are welcomed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from rest_framework.test import APIClient

from chat import frames
from replies import cache as replies_cache
from replies.models import WelcomeText
from replies.sanitise import plain
from tests.chat.test_api import agent_client
from tests.conftest import login_visitor

pytestmark = pytest.mark.django_db(transaction=True)  # the widget reads on a pool thread: committed data only

BEFORE = [("enterprises", "0009_landing_domain_served"), ("replies", "0001_initial")]


def console_screen(boss: APIClient) -> list[str]:
    return [row["content"] for row in boss.get("/api/v1/agent/welcome-texts").json()["welcome_texts"]]


def visitor_sees(enterprise: Any) -> dict[str, Any]:
    """Every answer that welcomes a visitor: the login's texts and its `welcome`, `ready`'s and the widget's."""
    answer = APIClient().post("/api/v1/visitor/login", {"ent_id": str(enterprise.pk)}, format="json").json()
    visitor = login_visitor(enterprise).visitor
    ready = frames.visitor_ready_frame(
        visitor, agents_online=0, last_message_id=0, conversation=None, language="zh-hans"
    )
    widget = APIClient().get(f"/api/v1/widget?ent_id={enterprise.pk}").json()
    return {
        "welcomes": answer["enterprise"]["welcomes"],
        "login": answer["enterprise"]["welcome"],
        "ready": ready["data"]["welcome"],
        "widget": widget["welcome"],
    }


def agree(boss: APIClient, enterprise: Any) -> list[str]:
    listed = console_screen(boss)
    first = listed[0] if listed else ""
    assert visitor_sees(enterprise) == {"welcomes": listed, "login": first, "ready": first, "widget": plain(first)}
    return listed


def test_the_console_lists_exactly_what_visitors_are_welcomed_with(enterprise, admin):
    boss = agent_client(admin)
    assert agree(boss, enterprise) == ["Welcome to Acme!"]
    added = boss.post("/api/v1/agent/welcome-texts", {"content": "<b>Hello</b> there"}, format="json").json()
    assert agree(boss, enterprise) == ["Welcome to Acme!", "<b>Hello</b> there"]
    boss.patch(f"/api/v1/agent/welcome-texts/{added['id']}", {"position": -1}, format="json")
    assert agree(boss, enterprise) == ["<b>Hello</b> there", "Welcome to Acme!"]
    for row in boss.get("/api/v1/agent/welcome-texts").json()["welcome_texts"]:
        boss.delete(f"/api/v1/agent/welcome-texts/{row['id']}")
    assert agree(boss, enterprise) == []  # none on the screen: none for visitors either


@pytest.fixture
def before_the_upgrade(enterprise: Any) -> Iterator[Any]:
    """The schema as it was before welcome texts had one source (historical models), with the `enterprise`
    fixture made before it; migrated forward again afterwards, whatever the test did."""
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    try:
        yield executor.loader.project_state(BEFORE).apps
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
        replies_cache.reset()


def test_an_upgrade_makes_a_row_of_each_enterprises_welcome_text(admin, before_the_upgrade):
    old = before_the_upgrade
    old_enterprise, old_welcome = old.get_model("enterprises", "Enterprise"), old.get_model("replies", "WelcomeText")
    # The admin's enterprise (Acme) had its welcome in the column only: the screen said none, visitors saw it.
    old_welcome.objects.filter(enterprise_id=admin.enterprise_id).delete()
    old_enterprise.objects.filter(pk=admin.enterprise_id).update(welcome_text="Hi <b>all</b> & welcome!")
    with_rows = old_enterprise.objects.create(name="Rows", welcome_text="<b>mirrored</b>")
    old_welcome.objects.create(enterprise=with_rows, content="<b>mirrored</b>", position=0)
    old_welcome.objects.create(enterprise=with_rows, content="second", position=1)
    silent = old_enterprise.objects.create(name="Silent", welcome_text="")
    unsafe = old_enterprise.objects.create(name="Unsafe", welcome_text="<script>alert(1)</script>")

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    replies_cache.reset()

    def texts(enterprise_id: int) -> list[str]:
        return list(WelcomeText.objects.filter(enterprise_id=enterprise_id).values_list("content", flat=True))

    assert texts(admin.enterprise_id) == ["Hi <b>all</b> &amp; welcome!"]  # sanitised, as visitors were shown it
    assert texts(with_rows.pk) == ["<b>mirrored</b>", "second"]  # its rows were the source already: no copy
    assert texts(silent.pk) == [] and texts(unsafe.pk) == []
    assert agree(agent_client(admin), admin.enterprise) == ["Hi <b>all</b> &amp; welcome!"]


def test_a_downgrade_puts_the_first_row_back_into_welcome_text(enterprise, before_the_upgrade):
    old_enterprise = before_the_upgrade.get_model("enterprises", "Enterprise")
    assert old_enterprise.objects.get(pk=enterprise.pk).welcome_text == "Welcome to Acme!"
