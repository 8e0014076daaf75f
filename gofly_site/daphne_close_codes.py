"""Let daphne close a websocket with the server codes RFC 6455 registers (1001, 1011, 1012, 1013).

autobahn's `sendClose`, which daphne calls for an application's `websocket.close`, accepts only 1000 and
3000-4999 and raises for the rest: under daphne a close with 1012 ("service restart", on shutdown) or 1013
("try again later", Redis or the database away) failed and left the socket open (the fault tests saw it).
These codes are the ones a server is meant to send; uvicorn sends them as they are.
"""

from __future__ import annotations

from typing import Any

SERVER_CODES = frozenset({1001, 1011, 1012, 1013})


def install() -> None:
    try:
        from daphne.ws_protocol import WebSocketProtocol
    except ImportError:  # pragma: no cover - daphne is a requirement
        return
    if getattr(WebSocketProtocol.serverClose, "gofly", False):
        return
    upstream = WebSocketProtocol.serverClose

    def server_close(self: Any, code: int | None = None) -> None:
        if code in SERVER_CODES:
            self.sendCloseFrame(code=code, isReply=False)  # what sendClose does once it has checked the code
        else:
            upstream(self, code=code)

    server_close.gofly = True  # type: ignore[attr-defined]
    WebSocketProtocol.serverClose = server_close
