"""Application config for visitors, messages, presence and the realtime chat."""

import threading
from typing import Any

from django.apps import AppConfig
from django.core.signals import request_finished
from django.db import connections
from django.db.models.signals import post_delete
from django.utils.translation import gettext_lazy as _


def close_request_thread_connections(**kwargs: Any) -> None:
    """Close the database connections of a finished request's own thread.

    Under ASGI, Django runs each sync request in a new thread. With CONN_MAX_AGE its connection would
    outlive the request until the garbage collector found the dead thread: a burst of requests then
    held more connections than MariaDB allows (bench/README.md, finding 2). The consumers' database
    thread and the login pool never see request_finished, so they keep their persistent connections.
    The main thread (the test client, management commands) is left alone.
    """
    if threading.current_thread() is threading.main_thread():
        return
    for connection in connections.all(initialized_only=True):
        connection.close()


class ChatConfig(AppConfig):
    name = "chat"
    verbose_name = _("Chat")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        request_finished.connect(close_request_thread_connections, dispatch_uid="gofly-close-request-db")
        from accounts.hooks import credentials_revoked

        from . import batching, hooks, services, tenants
        from .models import Attachment
        from .realtime import broadcast, lifecycle
        from .uploads import attachment_files_delete

        tenants.connect()
        credentials_revoked.connect(tenants.agent_sockets_close)
        hooks.presence_gone.connect(services.presence_expired)
        hooks.periodic_chore.connect(services.desk_chores)
        # What a stopping process waits for (lifecycle.close_all): messages being stored, then announced.
        lifecycle.on_drain(batching.message_create.idle)
        lifecycle.on_drain(broadcast.idle)
        post_delete.connect(attachment_files_delete, sender=Attachment, dispatch_uid="gofly-attachment-files")
