"""The WeChat channel's routes: the callback URL WeChat's console is given (wechat.callback) and the visitor page's
web authorisation (wechat.oauth)."""

from django.urls import path

from . import oauth
from .callback import wechat_callback
from .selectors import CALLBACK_ROUTE, CALLBACK_URL_NAME

urlpatterns = [
    path("wechat/oauth/<int:enterprise_id>/start", oauth.oauth_start, name=oauth.START_URL_NAME),
    path("wechat/oauth/<int:enterprise_id>/callback", oauth.oauth_callback, name=oauth.CALLBACK_URL_NAME),
    path(CALLBACK_ROUTE, wechat_callback, name=CALLBACK_URL_NAME),
]
