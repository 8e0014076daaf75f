"""The WeChat pages: the account's settings page in the enterprise's management area (/manage/wechat/account/,
its own form: the secrets never reach Django's generic pages), the followers and deliveries read only there,
and every WeChat row read only in /admin, secrets left out."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from accounts.permissions import MANAGE_AGENTS, MANAGE_SETTINGS
from enterprises.manage import Page, TenantModelAdmin, manage_site

from .menu_page import wechat_menu_page
from .models import (
    WechatAccount,
    WechatAgentBinding,
    WechatDelivery,
    WechatFollower,
    WechatQrCode,
    WechatVerifyFile,
)
from .qr_page import wechat_qrcodes_page
from .settings_page import wechat_account_page
from .verify_page import wechat_verify_files_page

manage_site.register_page(
    Page("wechat/account/", "wechat_account", _("WeChat official account"), MANAGE_SETTINGS, wechat_account_page)
)


# --- /admin (superadmins): read only; the secrets never appear, rows change through the services ------------


class _ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(WechatAccount)
class WechatAccountAdmin(_ReadOnlyAdmin):
    """Which enterprise has which account, and how it is set; AppSecret, Token and AES key are left out."""

    list_display = ("enterprise", "app_id", "message_mode", "is_enabled", "oauth_enabled", "updated_at")
    list_filter = ("is_enabled", "message_mode", "oauth_enabled")
    search_fields = ("app_id", "enterprise__name")
    list_select_related = ("enterprise",)
    fields = (
        "enterprise",
        "app_id",
        "message_mode",
        "active_messages_allowed",
        "is_enabled",
        "oauth_enabled",
        "template_new_visitor",
        "template_new_message",
        "template_reply",
        "menu_published_at",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields


@admin.register(WechatFollower)
class WechatFollowerAdmin(_ReadOnlyAdmin):
    list_display = ("nickname", "openid", "enterprise", "subscribed", "last_inbound_at", "created_at")
    list_filter = ("subscribed", "enterprise")
    search_fields = ("openid", "nickname")
    list_select_related = ("enterprise",)
    raw_id_fields = ("visitor",)


@admin.register(WechatDelivery)
class WechatDeliveryAdmin(_ReadOnlyAdmin):
    list_display = ("message_id", "enterprise", "status", "attempts", "errcode", "reason", "created_at", "sent_at")
    list_filter = ("status", "errcode", "enterprise")
    search_fields = ("follower__openid", "reason")
    list_select_related = ("enterprise",)
    raw_id_fields = ("message", "follower")


@admin.register(WechatAgentBinding)
class WechatAgentBindingAdmin(_ReadOnlyAdmin):
    list_display = ("agent", "nickname", "openid", "enterprise", "alerts_enabled", "bound_at", "last_alert_at")
    list_filter = ("alerts_enabled", "enterprise")
    search_fields = ("openid", "nickname", "agent__username")
    list_select_related = ("agent", "enterprise")


@admin.register(WechatQrCode)
class WechatQrCodeAdmin(_ReadOnlyAdmin):
    list_display = ("scene", "kind", "agent", "enterprise", "expires_at", "created_at")
    list_filter = ("kind", "enterprise")
    search_fields = ("scene", "agent__username")
    list_select_related = ("agent", "enterprise")
    exclude = ("ticket",)  # who holds the ticket can show the picture


@admin.register(WechatVerifyFile)
class WechatVerifyFileAdmin(_ReadOnlyAdmin):
    list_display = ("name", "domain", "enterprise", "uploaded_at")
    search_fields = ("name", "domain")
    list_select_related = ("enterprise",)


# --- /manage/ (enterprise admins): the followers and what was sent to them, read only -------------------------


class FollowerManageAdmin(TenantModelAdmin):
    permission = MANAGE_SETTINGS
    can_add = can_change = can_delete = False
    list_display = ("nickname", "subscribed", "subscribed_at", "last_inbound_at", "oauth_at")
    list_filter = ("subscribed",)
    search_fields = ("nickname", "openid")
    fields = ("nickname", "openid", "subscribed", "subscribed_at", "unsubscribed_at", "last_inbound_at", "oauth_at")
    readonly_fields = fields

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        return {}


class DeliveryManageAdmin(TenantModelAdmin):
    """Each reply sent to a follower through WeChat: sent, pending (retried) or failed, and why."""

    permission = MANAGE_SETTINGS
    can_add = can_change = can_delete = False
    list_display = ("created_at", "follower", "status", "attempts", "errcode", "reason", "sent_at")
    list_filter = ("status", "errcode")
    search_fields = ("follower__nickname", "follower__openid", "reason")
    date_hierarchy = "created_at"
    list_select_related = ("follower",)
    fields = ("message", "follower", "status", "attempts", "errcode", "reason", "created_at", "sent_at")
    readonly_fields = fields

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        return {}


manage_site.register(WechatFollower, FollowerManageAdmin)
manage_site.register(WechatDelivery, DeliveryManageAdmin)
manage_site.register_page(
    Page("wechat/menu/", "wechat_menu", _("WeChat custom menu"), MANAGE_SETTINGS, wechat_menu_page)
)
manage_site.register_page(
    Page(
        "wechat/verify-files/",
        "wechat_verify_files",
        _("WeChat domain verification files"),
        MANAGE_SETTINGS,
        wechat_verify_files_page,
    )
)
manage_site.register_page(
    Page("wechat/qrcodes/", "wechat_qrcodes", _("WeChat QR codes of agents"), MANAGE_AGENTS, wechat_qrcodes_page)
)
