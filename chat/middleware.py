"""Websocket authentication: who is on the other end, decided before a consumer runs."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware

from accounts.selectors import agent_from_jwt
from core import health
from core.clientip import client_ip, current_address

from .identity import visitor_token_read


class GoflyAuthMiddleware(BaseMiddleware):
    """Sets scope['gofly']: the client IP, the visitor claim (visitor socket) or the agent and how they proved it."""

    def __init__(self, inner: Any, *, side: str) -> None:
        super().__init__(inner)
        self.side = side  # "visitor" or "agent"

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        token = (query.get("token") or [""])[0]
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope.get("headers", [])}
        info: dict[str, Any] = {
            "ip": client_ip(
                (scope.get("client") or [None])[0], headers.get("x-forwarded-for"), headers.get("x-real-ip")
            ),
            "origin": headers.get("origin"),
            "host": headers.get("host", ""),
            # What the visitor page reads (its link's `lang`, sent on the socket's URL), else the browser's:
            # the language of the welcome and offline texts of the `ready` frame.
            "lang": (query.get("lang") or [""])[0][:20],
            "accept_language": headers.get("accept-language", "")[:500],
            "visitor": None,
            "agent": None,
            "agent_via": None,
            "outage": None,
        }
        if self.side == "visitor":
            info["visitor"] = visitor_token_read(token)
        else:
            if token:
                try:
                    info["agent"] = await database_sync_to_async(agent_from_jwt)(token)
                except Exception as exc:
                    if health.outage_of(exc) is None:
                        raise
                    # The database is away: the consumer answers 1013 (reconnect shortly), not 4401 (log in
                    # again) and a traceback per socket; health logs one line per outage.
                    info["outage"] = exc
                info["agent_via"] = "jwt"
            else:
                user = scope.get("user")
                if user is not None and user.is_authenticated and user.is_agent:
                    info["agent"] = user
                    info["agent_via"] = "session"
        scope["gofly"] = info
        current_address.set(info["ip"])  # the socket's task: its frames' audit records (enterprises.audit)
        return await super().__call__(scope, receive, send)
