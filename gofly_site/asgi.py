"""ASGI entry point: Django for HTTP (static files included), Channels for websockets."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gofly_site.settings")
django_asgi = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from chat.routing import websocket_urlpatterns  # noqa: E402

http_app = django_asgi
if os.environ.get("GOFLY_SERVE_STATIC", "1") == "1":
    # Embedded mode has no nginx in front; Channels' handler serves /static/ from the finders.
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    http_app = ASGIStaticFilesHandler(django_asgi)  # type: ignore[assignment]

application = ProtocolTypeRouter(
    {
        "http": http_app,
        "websocket": URLRouter(websocket_urlpatterns),
    }
)
