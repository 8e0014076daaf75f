"""Two ASGI applications that do nothing but answer, for bench/floor.py: the cost of the stack itself.

`raw`: plain ASGI. `django`: GoFly's settings and middleware, a Django async view and a Channels
consumer; no database, no Redis. What GoFly costs per visitor beyond `django` is its own work.
"""

from __future__ import annotations

import os
from typing import Any

READY = '{"type":"ready","data":{}}'


async def raw(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "http":
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": b'{"token":"x"}'})
    elif scope["type"] == "websocket":
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": READY})
        while (await receive())["type"] != "websocket.disconnect":
            pass


def _django() -> Any:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gofly_site.settings")
    import django

    django.setup()
    from channels.generic.websocket import AsyncWebsocketConsumer
    from channels.routing import ProtocolTypeRouter, URLRouter
    from django.conf import settings
    from django.core.handlers.asgi import ASGIHandler
    from django.http import HttpRequest, JsonResponse
    from django.urls import path
    from django.views.decorators.csrf import csrf_exempt

    @csrf_exempt
    async def login(request: HttpRequest) -> JsonResponse:
        return JsonResponse({"token": "x"})

    class Ready(AsyncWebsocketConsumer):
        async def connect(self) -> None:
            await self.accept()
            await self.send(text_data=READY)

    global urlpatterns
    urlpatterns = [path("api/v1/visitor/login", login)]
    settings.ROOT_URLCONF = __name__
    return ProtocolTypeRouter({"http": ASGIHandler(), "websocket": URLRouter([path("ws/visitor", Ready.as_asgi())])})


urlpatterns: list[Any] = []
django_app = _django() if os.environ.get("GOFLY_FLOOR_APP") == "django" else None
