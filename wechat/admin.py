"""The WeChat page of the enterprise's management area (/manage/wechat/account/); no model admin: the account's
secrets must not reach Django's generic pages."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from accounts.permissions import MANAGE_AGENTS, MANAGE_SETTINGS
from enterprises.manage import Page, manage_site

from .qr_page import wechat_qrcodes_page
from .settings_page import wechat_account_page

manage_site.register_page(
    Page("wechat/account/", "wechat_account", _("WeChat official account"), MANAGE_SETTINGS, wechat_account_page)
)
manage_site.register_page(
    Page("wechat/qrcodes/", "wechat_qrcodes", _("WeChat QR codes of agents"), MANAGE_AGENTS, wechat_qrcodes_page)
)
