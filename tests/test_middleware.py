"""The middleware stack under ASGI: Django's header-only middleware runs without thread hops."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from asgiref.sync import SyncToAsync
from django.test import AsyncClient

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_visitor_login_hops_to_a_thread_only_where_it_may_block(enterprise):
    """Each hook of a sync middleware once cost a hop to the shared sync thread: 18 per login."""
    hops: list[str] = []
    real_call = SyncToAsync.__call__

    async def counting(self: SyncToAsync, *args: Any, **kwargs: Any) -> Any:
        hops.append(getattr(self.func, "__qualname__", repr(self.func)))
        return await real_call(self, *args, **kwargs)

    client = AsyncClient()
    # The platform's default language (for a client that asks for none) is read once per 30 s, in a hop.
    await client.post("/api/v1/visitor/login", {"ent_id": enterprise.pk}, content_type="application/json")
    with mock.patch.object(SyncToAsync, "__call__", counting):
        response = await client.post(
            "/api/v1/visitor/login", {"ent_id": enterprise.pk}, content_type="application/json"
        )
    assert response.status_code == 200
    assert response["X-Frame-Options"] == "SAMEORIGIN" and response["X-Content-Type-Options"] == "nosniff"
    # What remains: request_started's receivers, the two hooks each of sessions and messages (they may
    # write the session), the login's database call, closing the response.
    assert sorted(hops) == sorted(
        [
            "Signal.asend.<locals>.sync_send",
            "SessionMiddleware.process_request",
            "MessageMiddleware.process_request",
            "_visitor_login",
            "MessageMiddleware.process_response",
            "SessionMiddleware.process_response",
            "HttpResponseBase.close",
        ]
    )


async def test_the_console_still_checks_csrf_and_sets_the_language(agent):
    client = AsyncClient(enforce_csrf_checks=True)
    refused = await client.post("/login", {"username": "kefu2", "password": "agent-pass-123"})
    assert refused.status_code == 403
    page = await client.get("/login", headers={"accept-language": "zh-hans"})
    assert page.status_code == 200 and page["Content-Language"] == "zh-hans"
    token = page.cookies["csrftoken"].value
    logged_in = await client.post(
        "/login", {"username": "kefu2", "password": "agent-pass-123", "csrfmiddlewaretoken": token}
    )
    assert logged_in.status_code == 302
    console = await client.get("/console")
    assert console.status_code == 200
