"""Health probes for load balancers and orchestrators: /healthz (the process answers) and /readyz (its database
and Redis answer). Async, no session or CSRF work, no rate limit: cheap enough to be polled every second."""

from __future__ import annotations

import asyncio

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection
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


def _database_ping() -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        # A probe thread is not a request thread: nothing would ever close its connection.
        connection.close()


async def _check_database() -> None:
    # Not thread-sensitive: a hung database must not block the one thread the requests' sync code shares.
    await asyncio.wait_for(sync_to_async(_database_ping, thread_sensitive=False)(), CHECK_TIMEOUT)


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
    """Ready: the database and (when configured) Redis answer; 503 names what does not."""
    checks = {"database": _check_database()}
    if settings.REDIS_URL:  # the embedded mode has no Redis to wait for
        checks["redis"] = _check_redis()
    results = await asyncio.gather(*checks.values(), return_exceptions=True)
    status = {
        name: "ok" if result is None else f"down: {type(result).__name__}"
        for name, result in zip(checks, results, strict=True)
    }
    down = sorted(name for name, state in status.items() if state != "ok")
    body = {"status": "down" if down else "ok", "checks": status, **({"down": down} if down else {})}
    return JsonResponse(body, status=503 if down else 200)
