"""HTML pages of the chat: the visitor's chatIndex page and the agent console."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_exempt

from accounts.models import User
from accounts.selectors import agent_payload
from enterprises.origins import frame_ancestors, landing_redirect
from enterprises.selectors import enterprise_get_active


# The widget shows this page in an iframe on the operator's site: who may frame it is the enterprise's
# frame-ancestors below, which X-Frame-Options (one site or none) cannot say.
@xframe_options_exempt
def chat_index(request: HttpRequest) -> HttpResponse:
    """`/chatIndex?kefu_id=&ent_id=` (and `/livechat?user_id=`): the visitor chat page."""
    params = request.GET
    kefu_id = params.get("kefu_id") or params.get("user_id") or ""
    ent_id = params.get("ent_id", "")
    if not ent_id and kefu_id:
        # Agent usernames are unique, so a link naming only the agent still finds its enterprise.
        agent = User.objects.filter(username=kefu_id, enterprise__isnull=False).only("enterprise_id").first()
        ent_id = str(agent.enterprise_id) if agent else ""
    raw_lang = (params.get("lang") or "").replace("_", "-").lower()
    raw_lang = _LANG_ALIASES.get(raw_lang, raw_lang)
    lang = translation.get_supported_language_variant(raw_lang) if _known_language(raw_lang) else None
    if lang:
        translation.activate(lang)  # the link's `lang` wins over the browser's Accept-Language
    enterprise = enterprise_get_active(ent_id)
    if enterprise is None:
        return render(request, "chat/unavailable.html", {"message": _("This chat link is not valid.")}, status=404)
    landing = landing_redirect(request, enterprise)
    if landing:
        return HttpResponseRedirect(landing)  # 302: the operator may move it again
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
        "timestamp": params.get("timestamp", ""),
        "signature": params.get("signature", ""),
        "lang": translation.get_language(),
        "max_length": settings.GOFLY["MESSAGE_MAX_LENGTH"],
    }
    response = render(request, "chat/visitor.html", {"config": config, "enterprise": enterprise})
    response.headers.setdefault("Content-Language", translation.get_language())
    policy = response.headers.get("Content-Security-Policy")
    ancestors = frame_ancestors(enterprise)
    response.headers["Content-Security-Policy"] = f"{policy}; {ancestors}" if policy else ancestors
    return response


# What the original's links and widget say (GOFLY_LANG "cn"), besides what Django knows (zh-cn, zh-hans, en...).
_LANG_ALIASES = {"cn": "zh-hans"}


def _known_language(code: str | None) -> bool:
    if not code or len(code) > 15:
        return False
    try:
        translation.get_supported_language_variant(code.replace("_", "-").lower())
    except LookupError:
        return False
    return True


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
    config = {"agent": agent_payload(user), "max_length": settings.GOFLY["MESSAGE_MAX_LENGTH"]}  # type: ignore[arg-type]
    return render(request, "chat/console.html", {"config": config})
