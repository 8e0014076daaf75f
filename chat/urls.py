"""Routes of the chat's pages (the visitor's chat, the agents' console, media), included by gofly_site/urls.py
with the API's (chat/api/urls.py). Websocket routes are in chat/routing.py."""

from django.urls import path

from . import views

urlpatterns = [
    path("chatIndex", views.chat_index, name="chat-index"),
    path("livechat", views.chat_index, name="livechat"),
    path("console", views.console, name="console"),
    path("media/<str:key>", views.media, name="media"),
    path("media/<str:key>/thumb", views.media, {"thumb": True}, name="media-thumb"),
]
