"""/healthz and /readyz: what a load balancer polls."""

from __future__ import annotations

import pytest
from django.test import AsyncClient

pytestmark = pytest.mark.django_db


async def test_healthz_answers_ok_without_a_session_cookie():
    response = await AsyncClient().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "Set-Cookie" not in response.headers


async def test_readyz_answers_ok_when_the_database_and_redis_answer(settings):
    response = await AsyncClient().get("/readyz")
    assert response.status_code == 200
    expected = {"database": "ok", **({"redis": "ok"} if settings.REDIS_URL else {}), "migrations": "ok"}
    assert response.json() == {"status": "ok", "checks": expected}


async def test_readyz_in_the_embedded_mode_checks_only_the_database(settings):
    settings.REDIS_URL = ""
    response = await AsyncClient().get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "migrations": "ok"}


async def test_readyz_answers_503_naming_redis_when_redis_is_unreachable(settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = await AsyncClient().get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "down" and body["down"] == ["redis"]
    assert body["checks"]["database"] == "ok"


async def test_readyz_refuses_a_post_like_any_probe_would_never_send():
    response = await AsyncClient().post("/readyz")
    assert response.status_code == 405
