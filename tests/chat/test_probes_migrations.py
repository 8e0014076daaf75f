"""/readyz and the schema: a process whose database misses migrations is not ready, however well it pings."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from django.test import AsyncClient

from core import probes

pytestmark = pytest.mark.django_db(transaction=True)  # the probe reads django_migrations on its own connection


@pytest.fixture(autouse=True)
def _schema_not_yet_seen() -> Iterator[None]:
    probes.reset()
    yield
    probes.reset()


def _forget(app: str, name: str) -> tuple[str, str, Any]:
    row = MigrationRecorder.Migration.objects.get(app=app, name=name)
    row.delete()
    return app, name, row.applied


@pytest.fixture
def unapplied() -> Iterator[list[str]]:
    """The latest migrations of two apps forgotten, as after an upgrade that skipped `migrate`."""
    graph = MigrationLoader(connection).graph
    leaves = [node for node in graph.leaf_nodes() if node[0] in ("replies", "chat")]
    assert len(leaves) == 2
    forgotten = [_forget(app, name) for app, name in leaves]
    yield [f"{app}.{name}" for app, name, _ in forgotten]
    for app, name, applied in forgotten:
        MigrationRecorder.Migration.objects.get_or_create(app=app, name=name, defaults={"applied": applied})


async def test_readyz_answers_503_naming_the_unapplied_migrations(unapplied):
    response = await AsyncClient().get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "down" and body["down"] == ["migrations"]
    assert body["checks"]["database"] == "ok"
    reason = body["checks"]["migrations"]
    assert reason.startswith("down: 2 unapplied (") and reason.endswith("run manage.py migrate")
    assert all(name in reason for name in unapplied)


async def test_readyz_answers_ok_once_the_migrations_are_applied_and_then_stops_reading_the_graph(unapplied):
    assert (await AsyncClient().get("/readyz")).status_code == 503
    for name in unapplied:  # `migrate` ran
        app, _, migration = name.partition(".")
        await MigrationRecorder.Migration.objects.acreate(app=app, name=migration)
    assert (await AsyncClient().get("/readyz")).json()["checks"]["migrations"] == "ok"
    # Current once is current for good: the probe only pings from now on (it is polled every few seconds).
    app, _, migration = unapplied[0].partition(".")
    await MigrationRecorder.Migration.objects.filter(app=app, name=migration).adelete()  # put back by the fixture
    response = await AsyncClient().get("/readyz")
    assert response.status_code == 200 and response.json()["checks"]["migrations"] == "ok"
