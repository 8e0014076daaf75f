"""The WeChat pages of the enterprise's management area (/manage/wechat/account/, menu/, verify-files/); no model
admin: the account's secrets must not reach Django's generic pages."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from accounts.permissions import MANAGE_SETTINGS
from enterprises.manage import Page, manage_site

from .menu_page import wechat_menu_page
from .settings_page import wechat_account_page
from .verify_page import wechat_verify_files_page

manage_site.register_page(
    Page("wechat/account/", "wechat_account", _("WeChat official account"), MANAGE_SETTINGS, wechat_account_page)
)
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
