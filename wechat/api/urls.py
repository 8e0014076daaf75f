"""Routes of the WeChat channel's agent API (docs/protocol.md, 5.19), included by gofly_site/urls.py."""

from django.urls import path

from . import views

urlpatterns = [
    path("api/v1/agent/wechat/binding", views.WechatBindingView.as_view(), name="agent-wechat-binding"),
    path("api/v1/agent/wechat/bind-qrcode", views.WechatBindQrcodeView.as_view(), name="agent-wechat-bind-qrcode"),
    path("api/v1/agent/wechat/route-qrcode", views.WechatRouteQrcodeView.as_view(), name="agent-wechat-route-qrcode"),
    path(
        "api/v1/agent/wechat/agents/<int:agent_id>/route-qrcode",
        views.WechatAgentRouteQrcodeView.as_view(),
        name="agent-wechat-agent-route-qrcode",
    ),
    path(
        "api/v1/agent/wechat/qrcodes/<int:qrcode_id>/image",
        views.WechatQrcodeImageView.as_view(),
        name="agent-wechat-qrcode-image",
    ),
]
