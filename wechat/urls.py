"""The WeChat channel's routes: the callback URL WeChat's console is given (wechat.callback), the visitor page's
web authorisation (wechat.oauth) and the domain verification files at the site root (wechat.verify_files)."""

from django.urls import path, re_path

from . import oauth
from .callback import wechat_callback
from .selectors import CALLBACK_ROUTE, CALLBACK_URL_NAME
from .verify_files import VERIFY_FILE_ROUTE, VERIFY_FILE_URL_NAME, verify_file_serve

urlpatterns = [
    path("wechat/oauth/<int:enterprise_id>/start", oauth.oauth_start, name=oauth.START_URL_NAME),
    path("wechat/oauth/<int:enterprise_id>/callback", oauth.oauth_callback, name=oauth.CALLBACK_URL_NAME),
    path(CALLBACK_ROUTE, wechat_callback, name=CALLBACK_URL_NAME),
    re_path(VERIFY_FILE_ROUTE, verify_file_serve, name=VERIFY_FILE_URL_NAME),
]
