"""The WeChat channel's routes: the callback URL WeChat's console is given (wechat.callback)."""

from django.urls import path

from .callback import wechat_callback
from .selectors import CALLBACK_ROUTE, CALLBACK_URL_NAME

urlpatterns = [
    path(CALLBACK_ROUTE, wechat_callback, name=CALLBACK_URL_NAME),
]
