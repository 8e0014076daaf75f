"""The custom menu page of the management area (/manage/wechat/menu/): build the menu (our own script,
static/js/wechat-menu.js, edits the JSON in the form's text area and draws the phone's menu bar), save it as
a draft, publish it to WeChat, read back the menu WeChat shows and load it into the editor, delete it.

Without the script the text area is the editor: the page works the same. Every WeChat refusal comes back as a
message with its errcode; the draft is stored before WeChat is called, so nothing typed is lost.
"""

from __future__ import annotations

import json
from typing import Any, cast

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _

from accounts.models import User
from core.errors import ChatError
from enterprises.manage import manage_site

from . import client, services
from .menu import (
    KEY_MAX_BYTES,
    MAX_BUTTONS,
    MAX_SUB_BUTTONS,
    NAME_MAX_BYTES,
    SUB_NAME_MAX_BYTES,
    TYPES,
    URL_MAX_BYTES,
    MenuInvalidError,
    MenuProblem,
    menu_normalise,
    menu_parse,
)
from .selectors import wechat_account_of


def menu_text(menu: Any) -> str:
    """A menu as the editor shows it: indented JSON, Chinese as it is."""
    return json.dumps(menu if menu else {"button": []}, ensure_ascii=False, indent=2)


def wechat_refusal_text(failure: client.WechatError) -> str:
    """What to tell the admin about a WeChat failure: WeChat's errcode and words, or why it was not reached."""
    if isinstance(failure, client.WechatNotConfiguredError):
        return _("WeChat cannot be called: %(reason)s. Complete the official account's settings.") % {
            "reason": failure.errmsg
        }
    if isinstance(failure, client.WechatUnavailableError):
        return _("WeChat could not be reached (%(reason)s). Try again later.") % {"reason": failure.errmsg}
    return _("WeChat refused: errcode %(errcode)s, %(errmsg)s") % {
        "errcode": failure.errcode,
        "errmsg": failure.errmsg,
    }


def _editor_config() -> dict[str, Any]:
    """What static/js/wechat-menu.js needs: WeChat's limits and the editor's words."""
    return {
        "strings": {
            "name": _("Name"),
            "type": _("Action"),
            "submenu": _("Sub-menu"),
            "key": _("Key"),
            "url": _("URL"),
            "appid": _("Mini program AppID"),
            "pagepath": _("Mini program page"),
            "addButton": _("Add a button"),
            "addSub": _("Add a sub-button"),
            "remove": _("Remove"),
            "up": _("Move up"),
            "down": _("Move down"),
            "button": _("Button %s"),
            "sub": _("Sub-button %s"),
            "bytes": _("%(used)s of %(limit)s bytes"),
            "empty": _("No buttons yet."),
            "invalid": _("Not a menu"),
            "types": {
                "click": _("Send a key to the desk (click)"),
                "view": _("Open a web page (view)"),
                "miniprogram": _("Open a mini program (miniprogram)"),
                "scancode_push": _("Scan a QR code (scancode_push)"),
                "scancode_waitmsg": _("Scan and wait for an answer (scancode_waitmsg)"),
                "pic_sysphoto": _("Take a photo (pic_sysphoto)"),
                "pic_photo_or_album": _("Photo or album (pic_photo_or_album)"),
                "pic_weixin": _("WeChat album (pic_weixin)"),
                "location_select": _("Send a location (location_select)"),
            },
        },
        "buttons": MAX_BUTTONS,
        "subButtons": MAX_SUB_BUTTONS,
        "nameBytes": NAME_MAX_BYTES,
        "subNameBytes": SUB_NAME_MAX_BYTES,
        "keyBytes": KEY_MAX_BYTES,
        "urlBytes": URL_MAX_BYTES,
        "types": list(TYPES),
    }


def wechat_menu_page(request: HttpRequest) -> HttpResponse:
    """GET: the page. POST `action`: "save" (the draft), "publish" (save, then menu/create), "load" (put the
    posted menu into the editor, unsaved), "fetch" (menu/get: show WeChat's menu), "delete" (menu/delete)."""
    actor = cast(User, request.user)
    account = wechat_account_of(actor.enterprise_id or 0)  # the site let only an enterprise's admins in
    text = menu_text(account.menu if account else None)
    action = request.POST.get("action") if request.method == "POST" else None
    problems: list[MenuProblem] = []
    error = ""
    live: dict[str, Any] | None = None
    fetched = False
    status = 200
    try:
        if action in ("save", "publish", "load"):
            text = request.POST.get("menu", "")
            value = menu_parse(text)
            if action == "load":
                text = menu_text(menu_normalise(value))
                messages.info(request, _("Loaded into the editor; save or publish it to keep it."))
            elif action == "save":
                services.wechat_menu_save(actor=actor, menu=value)
                messages.success(request, _("The menu draft is saved."))
                return HttpResponseRedirect(request.get_full_path())
            else:
                try:
                    services.wechat_menu_publish(actor=actor, menu=value)
                except client.WechatError as failure:  # the draft is saved: say why and show it
                    messages.error(request, wechat_refusal_text(failure) + " " + _("The draft is saved."))
                    return HttpResponseRedirect(request.get_full_path())
                messages.success(request, _("The menu is published: followers see it within minutes."))
                return HttpResponseRedirect(request.get_full_path())
        elif action == "fetch":
            live = services.wechat_menu_live(actor=actor)
            fetched = True
        elif action == "delete":
            services.wechat_menu_delete(actor=actor)
            messages.success(request, _("The menu is deleted from WeChat; the draft is kept."))
            return HttpResponseRedirect(request.get_full_path())
    except MenuInvalidError as invalid:
        problems, status = invalid.problems, 400
    except ChatError as refusal:
        error, status = refusal.message, refusal.status
    except client.WechatError as failure:
        error = wechat_refusal_text(failure)
    context: dict[str, Any] = {
        **manage_site.each_context(request),
        "title": _("WeChat custom menu"),
        "account": account,
        "menu_text": text,
        "problems": problems,
        "error": error,
        "fetched": fetched,
        "live": live,
        "live_text": menu_text(live) if live else "",
        "limits": _editor_config(),
        "page_url": reverse("manage:wechat_menu"),
        "account_url": reverse("manage:wechat_account"),
    }
    request.current_app = manage_site.name
    return TemplateResponse(request, "wechat/manage/menu.html", context, status=status)
