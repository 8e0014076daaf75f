"""The enterprise admins' page of agents' routing QR codes (/manage/wechat/qrcodes/): each active agent with
their permanent code to print, made on request (a visitor scanning it is routed to that agent)."""

from __future__ import annotations

from typing import Any, cast

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _

from accounts.models import User
from core.errors import ChatError
from enterprises.manage import manage_site

from . import qrcodes
from .models import WechatQrCode


def _agent_id(value: object) -> int | None:
    text = value if isinstance(value, str) else ""
    return int(text) if text.isdigit() and len(text) < 19 else None


def wechat_qrcodes_page(request: HttpRequest) -> HttpResponse:
    """GET: the agents and their codes; POST `agent_id`: make that agent's code (once; later: the same)."""
    actor = cast(User, request.user)
    enterprise_id = actor.enterprise_id or 0  # the site let only an enterprise's admins in
    if request.method == "POST":
        agent_id = _agent_id(request.POST.get("agent_id"))
        try:
            if agent_id is None:
                raise ChatError("invalid", _("Choose an agent."))
            qrcodes.route_qrcode_get_or_create(actor=actor, agent_id=agent_id)
        except ChatError as refusal:
            messages.error(request, refusal.message)
        return HttpResponseRedirect(request.get_full_path())
    account = qrcodes.usable_account(enterprise_id)
    agents = list(User.objects.filter(enterprise_id=enterprise_id, is_active=True).order_by("username"))
    codes: dict[int, WechatQrCode] = {}
    if account is not None:
        codes = {
            code.agent_id: code
            for code in WechatQrCode.objects.filter(account=account, kind=WechatQrCode.Kind.ROUTE).order_by("-pk")
        }
    rows = [
        {"agent": agent, "code": qrcodes.qrcode_payload(codes[agent.pk]) if agent.pk in codes else None}
        for agent in agents
    ]
    context: dict[str, Any] = {
        **manage_site.each_context(request),
        "title": _("WeChat QR codes of agents"),
        "available": account is not None,
        "rows": rows,
        "page_url": reverse("manage:wechat_qrcodes"),
        "account_url": reverse("manage:wechat_account"),
    }
    request.current_app = manage_site.name
    return TemplateResponse(request, "wechat/manage/qrcodes.html", context)
