"""ASGI entry point: Django for HTTP (static files included, by middleware), Channels for websockets."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gofly_site.settings")
django_asgi = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from chat.routing import websocket_urlpatterns  # noqa: E402
from gofly_site import daphne_body_limit, daphne_close_codes  # noqa: E402

daphne_close_codes.install()  # 1012 and 1013 closes under daphne (docs/protocol.md section 3)
daphne_body_limit.install()  # an oversized body refused before daphne reads it (core/bodylimit.py)

# Embedded (GOFLY_SERVE_STATIC=1), /static/ is answered by WhiteNoise's middleware (gofly_site/staticfiles.py)
# from STATIC_ROOT: gzip, hashed names, cache headers. Behind nginx, nginx serves it.
http_app = django_asgi

from core.bodylimit import BodyLimit  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": BodyLimit(http_app),
        "websocket": URLRouter(websocket_urlpatterns),
    }
)
