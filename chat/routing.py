"""Websocket routes of the chat."""

from channels.auth import AuthMiddlewareStack
from django.urls import path

from .consumers import AgentConsumer, VisitorConsumer
from .middleware import GoflyAuthMiddleware

# Only agents use the Django session; a visitor's socket skips the session and user lookup entirely.
websocket_urlpatterns = [
    path("ws/visitor", GoflyAuthMiddleware(VisitorConsumer.as_asgi(), side="visitor")),
    path("ws/agent", AuthMiddlewareStack(GoflyAuthMiddleware(AgentConsumer.as_asgi(), side="agent"))),
]
