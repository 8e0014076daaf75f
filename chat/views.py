"""HTML pages of the chat: the visitor's chatIndex page and the agent console."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_exempt

from accounts.models import User
from accounts.selectors import agent_payload
from enterprises.selectors import enterprise_get_active


@xframe_options_exempt  # the widget shows this page in an iframe on the operator's site
def chat_index(request: HttpRequest) -> HttpResponse:
    """`/chatIndex?kefu_id=&ent_id=` (and `/livechat?user_id=`): the visitor chat page."""
    params = request.GET
    kefu_id = params.get("kefu_id") or params.get("user_id") or ""
    ent_id = params.get("ent_id", "")
    if not ent_id and kefu_id:
        # Agent usernames are unique, so a link naming only the agent still finds its enterprise.
        agent = User.objects.filter(username=kefu_id, enterprise__isnull=False).only("enterprise_id").first()
        ent_id = str(agent.enterprise_id) if agent else ""
    enterprise = enterprise_get_active(ent_id)
    if enterprise is None:
        return render(request, "chat/unavailable.html", {"message": _("This chat link is not valid.")}, status=404)
    config = {
        "ent_id": enterprise.pk,
        "kefu_id": kefu_id,
        "enterprise_name": enterprise.name,
        "refer": params.get("refer") or request.META.get("HTTP_REFERER", ""),
        "landing_page": params.get("landing_page", ""),
        "extra": params.get("extra", ""),
        "visitor_id": params.get("visitor_id", ""),
        "visitor_name": params.get("visitor_name", ""),
        "avatar": params.get("avatar", ""),
        "lang": params.get("lang", ""),
    }
    return render(request, "chat/visitor.html", {"config": config, "enterprise": enterprise})


@login_required
def console(request: HttpRequest) -> HttpResponse:
    """The agent's chat workspace."""
    user = request.user
    if not getattr(user, "is_agent", False):
        return render(
            request,
            "chat/unavailable.html",
            {"message": _("This account is not an agent of any enterprise. Superadmins work in /admin.")},
            status=403,
        )
    return render(request, "chat/console.html", {"config": {"agent": agent_payload(user)}})  # type: ignore[arg-type]
