"""URL routes: each app's own (its urls.py or api/urls.py), gathered here, and the admin. Websocket routes
are in chat/routing.py."""

from django.contrib import admin
from django.urls import include, path

from enterprises.manage import manage_site

from .home import home
from .registration import register

urlpatterns = [
    path("", home, name="home"),  # the system config's home page, or the console
    path("", include("core.urls")),
    path("", include("core.api.urls")),  # the OpenAPI document and its docs page
    path("", include("accounts.urls")),  # before the admin's: it serves admin/login/
    path("admin/", admin.site.urls),
    path("manage/", manage_site.urls),  # enterprise admins: their enterprise's agents, roles, audit log, ...
    path("register", register, name="register"),
    path("captcha/", include("captcha.urls")),  # django-simple-captcha's images, drawn here
    path("", include("chat.urls")),
    path("", include("chat.api.urls")),
    path("", include("blacklist.api.urls")),
    path("", include("replies.api.urls")),
    path("", include("notices.urls")),
    path("", include("wechat.urls")),  # the official account's callback
    path("", include("wechat.api.urls")),  # agents' WeChat binding and QR codes
]
