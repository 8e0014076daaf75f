"""ASGI entry point: Django for HTTP (static files included), Channels for websockets."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gofly_site.settings")
django_asgi = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from chat.routing import websocket_urlpatterns  # noqa: E402
from gofly_site import daphne_body_limit, daphne_close_codes  # noqa: E402

daphne_close_codes.install()  # 1012 and 1013 closes under daphne (docs/protocol.md section 3)
daphne_body_limit.install()  # an oversized body refused before daphne reads it (core/bodylimit.py)

http_app = django_asgi
if os.environ.get("GOFLY_SERVE_STATIC", "1") == "1":
    # Embedded mode has no nginx in front; Django's handler serves /static/ from the finders.
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
    from django.http import Http404

    class StaticFilesHandler(ASGIStaticFilesHandler):
        """Django's handler meets a path that climbs out of /static/ with SuspiciousFileOperation (a
        400 with a logged traceback). A file that is not under /static/ is simply not found here."""

        def file_path(self, url: str) -> str:
            # The ASGI path arrives percent-decoded (%2e%2e%2f is ../ by now); a backslash is a separator
            # to some storages and to anyone reading the log.
            segments = url.replace("\\", "/").split("/")
            if ".." in segments or "\x00" in url:
                raise Http404("not a static file")
            return super().file_path(url)  # type: ignore[no-any-return]

    http_app = StaticFilesHandler(django_asgi)  # type: ignore[assignment]

from core.bodylimit import BodyLimit  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": BodyLimit(http_app),
        "websocket": URLRouter(websocket_urlpatterns),
    }
)
