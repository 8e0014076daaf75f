"""Health probes for load balancers and orchestrators: /healthz (the process answers) and /readyz (its database
and Redis answer, and the database's schema is the one this code expects). Async, no session or CSRF work, no
rate limit: cheap enough to be polled every second."""

from __future__ import annotations

import asyncio

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe

# Each dependency gets this long to answer; a probe must answer faster than the balancer's own timeout.
CHECK_TIMEOUT = 2.0


@csrf_exempt
@require_safe
async def healthz(request: HttpRequest) -> JsonResponse:
    """Alive: the event loop runs. Touches nothing else, so a database outage does not get processes killed."""
    return JsonResponse({"status": "ok"})


# Set once the database was seen with every migration applied. Migrations are applied before processes start
# (never while they serve), so once current the schema stays current for this process's life: later probes skip
# the migration graph and only ping.
_schema_current = False

# How many unapplied migrations /readyz names (the count is always given).
NAMED_MIGRATIONS = 3


class UnappliedMigrationsError(Exception):
    """The database answers but its schema is older than this code: pages and the API would answer 500."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        shown = ", ".join(names[:NAMED_MIGRATIONS]) + (", ..." if len(names) > NAMED_MIGRATIONS else "")
        super().__init__(f"{len(names)} unapplied ({shown}); run manage.py migrate")


def _unapplied_migrations() -> list[str]:
    """`app.name` of each migration the code has and the database has not recorded, in the order migrate would
    apply them."""
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{migration.app_label}.{migration.name}" for migration, _backwards in plan]


def _database_ping() -> list[str]:
    """Ping the database; until its schema was once seen current, also the migrations not applied to it."""
    global _schema_current
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        if _schema_current:
            return []
        unapplied = _unapplied_migrations()
        if not unapplied:
            _schema_current = True
        return unapplied
    finally:
        # A probe thread is not a request thread: nothing would ever close its connection.
        connection.close()


def reset() -> None:
    """Tests: forget that the schema was seen current."""
    global _schema_current
    _schema_current = False


async def _check_database() -> None:
    # Not thread-sensitive: a hung database must not block the one thread the requests' sync code shares.
    unapplied = await asyncio.wait_for(sync_to_async(_database_ping, thread_sensitive=False)(), CHECK_TIMEOUT)
    if unapplied:
        raise UnappliedMigrationsError(unapplied)


async def _check_redis() -> None:
    import redis.asyncio as redis

    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=CHECK_TIMEOUT, socket_timeout=CHECK_TIMEOUT
    )
    try:
        await asyncio.wait_for(client.ping(), CHECK_TIMEOUT)
    finally:
        await client.aclose()


@csrf_exempt
@require_safe
async def readyz(request: HttpRequest) -> JsonResponse:
    """Ready: the database and (when configured) Redis answer and every migration is applied; 503 names what is
    not (`"migrations": "down: 2 unapplied (app.0002_x, app.0003_y); run manage.py migrate"`)."""
    checks = {"database": _check_database()}
    if settings.REDIS_URL:  # the embedded mode has no Redis to wait for
        checks["redis"] = _check_redis()
    results = await asyncio.gather(*checks.values(), return_exceptions=True)
    status = {
        name: "ok" if result is None else f"down: {type(result).__name__}"
        for name, result in zip(checks, results, strict=True)
    }
    # The schema is a check of its own: the database answering while its tables are old is not "database down".
    database_result = results[0]
    if isinstance(database_result, UnappliedMigrationsError):
        status["database"] = "ok"
        status["migrations"] = f"down: {database_result}"
    elif database_result is None:
        status["migrations"] = "ok"
    down = sorted(name for name, state in status.items() if state != "ok")
    body = {"status": "down" if down else "ok", "checks": status, **({"down": down} if down else {})}
    return JsonResponse(body, status=503 if down else 200)
