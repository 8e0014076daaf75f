"""Reads of the WeChat channel: an enterprise's official account, the account a callback URL names, and that URL;
an enterprise's domain verification files and the one to serve to a host.

The callback URL is `/wechat/<callback_key>` (one per account; the key is random and URL-safe, so the URL
cannot be guessed from an enterprise id). Its route is reserved under the URL name CALLBACK_URL_NAME with
the keyword `callback_key` (route CALLBACK_ROUTE); the callback view registers it, finds its account with
`wechat_account_for_callback`, and checks what WeChat posts with wechatpy: `check_signature(account.token,
...)` and, in safe and compatible mode (`account.message_mode`), `WeChatCrypto(account.token,
account.encoding_aes_key, account.app_id)`.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

from core.jsonin import row_id

from .models import WechatAccount, WechatAgentBinding, WechatVerifyFile

CALLBACK_URL_NAME = "wechat_callback"
CALLBACK_ROUTE = "wechat/<str:callback_key>"


def wechat_account_of(enterprise_id: int) -> WechatAccount | None:
    """The enterprise's official account, configured or not; None if it has none yet."""
    return WechatAccount.objects.filter(enterprise_id=enterprise_id).first()


def agent_bindings_of(enterprise_id: int) -> list[WechatAgentBinding]:
    """The agents of the enterprise who bound their WeChat to its account, by agent name (the settings page
    shows them, with how their template alerts went)."""
    return list(
        WechatAgentBinding.objects.filter(
            enterprise_id=enterprise_id, account__enterprise_id=enterprise_id, agent__enterprise_id=enterprise_id
        )
        .select_related("agent")
        .order_by("agent__username")
    )


def wechat_account_for_callback(callback_key: str) -> WechatAccount | None:
    """The enabled account of an active enterprise that `callback_key` names; None for anything else (a
    disabled account, a suspended enterprise, a wrong or malformed key: the callback answers them alike)."""
    if not callback_key or len(callback_key) > 64:
        return None
    return (
        WechatAccount.objects.select_related("enterprise")
        .filter(callback_key=callback_key, is_enabled=True, enterprise__is_active=True)
        .first()
    )


def callback_url(account: WechatAccount, request: HttpRequest) -> str:
    """The absolute URL to paste into WeChat's console (服务器地址(URL)) for `account`, on the host and
    scheme `request` came in by (behind nginx: X-Forwarded-Proto, settings.SECURE_PROXY_SSL_HEADER)."""
    try:
        path = reverse(CALLBACK_URL_NAME, kwargs={"callback_key": account.callback_key})
    except NoReverseMatch:  # the callback view is not registered (yet): its reserved path
        path = f"/wechat/{account.callback_key}"
    return request.build_absolute_uri(path)


def verify_files_of(enterprise_id: int) -> QuerySet[WechatVerifyFile]:
    """The enterprise's domain verification files, newest first."""
    return WechatVerifyFile.objects.filter(enterprise_id=enterprise_id).order_by("-uploaded_at", "-pk")


def verify_file_of(enterprise_id: int, file_id: object) -> WechatVerifyFile | None:
    """The enterprise's verification file `file_id`; None for a missing one and another enterprise's alike."""
    pk = row_id(file_id)
    return None if pk is None else WechatVerifyFile.objects.filter(enterprise_id=enterprise_id, pk=pk).first()


def verify_file_for_host(name: str, host: str) -> WechatVerifyFile | None:
    """The verification file `name` to serve to a request for `host` (lower case, no port): the one uploaded
    for that domain, else one uploaded for any domain; only an active enterprise's."""
    files = WechatVerifyFile.objects.filter(name=name, domain__in=[host, ""], enterprise__is_active=True)
    return files.order_by("-domain").first()  # the host's own before the domainless one
