"""Websocket routes of the chat."""

from django.urls import path

from .consumers import AgentConsumer, VisitorConsumer

websocket_urlpatterns = [
    path("ws/visitor", VisitorConsumer.as_asgi()),
    path("ws/agent", AgentConsumer.as_asgi()),
]
