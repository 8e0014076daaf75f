"""The deploy page of the management area (/manage/deploy/): the enterprise's chat link and widget snippet
ready to copy for a chosen agent, a live preview, the origins allowed to embed it, and the identity secret
(generated here, shown once, masked after)."""

from __future__ import annotations

import json
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import User
from core.errors import ChatError
from enterprises import services as enterprise_services
from enterprises.manage import manage_site
from enterprises.models import Enterprise


class OriginsForm(forms.Form):
    allowed_origins = forms.CharField(
        label=gettext_lazy("Allowed origins"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60, "spellcheck": "false"}),
        help_text=gettext_lazy(
            "One origin per line (https://shop.example.com) whose pages may run the widget and frame the chat; "
            "empty allows any."
        ),
    )


def _links(request: HttpRequest, enterprise: Enterprise, kefu: str) -> dict[str, str]:
    origin = enterprise.landing_domain or f"{request.scheme}://{request.get_host()}"
    query = urlencode({"ent_id": str(enterprise.pk), **({"kefu_id": kefu} if kefu else {})})
    options = {
        "GOFLY_URL": origin,
        "GOFLY_KEFU_ID": kefu,
        "GOFLY_ENT": str(enterprise.pk),
        "GOFLY_BTN_TEXT": _("Chat with us"),
    }
    # json.dumps escapes quotes and, with the replacements, anything that could end the <script> element.
    init = json.dumps(options, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e")
    return {
        "link": f"{origin}/chatIndex?{query}",
        "snippet": f'<script src="{origin}/static/js/gofly-front.js"></script>\n<script>GOFLY.init({init})</script>',
    }


def deploy_page(request: HttpRequest) -> HttpResponse:
    """GET: the page; POST `action`: "origins" (save the allowed origins), "secret" (generate a new identity
    secret, shown on the answer only), "secret_off" (visitors need no signed identity any more)."""
    actor = cast(User, request.user)
    enterprise = Enterprise.objects.get(pk=actor.enterprise_id or 0)  # the site let only agents in
    agents = list(User.objects.filter(enterprise=enterprise, is_active=True, deleted_at=None).order_by("username"))
    names = [agent.username for agent in agents]
    wanted = request.GET.get("kefu", "")
    kefu = wanted if wanted in names else (names[0] if names else "")
    origins_form = OriginsForm(initial={"allowed_origins": enterprise.allowed_origins})
    new_secret = ""
    action = request.POST.get("action") if request.method == "POST" else None
    try:
        if action == "origins":
            origins_form = OriginsForm(request.POST)
            if origins_form.is_valid():
                enterprise_services.enterprise_allowed_origins_set(
                    actor=actor, enterprise_id=enterprise.pk, value=origins_form.cleaned_data["allowed_origins"]
                )
                messages.success(request, _("Allowed origins saved."))
                return HttpResponseRedirect(request.get_full_path())
        elif action in ("secret", "secret_off"):
            new_secret = enterprise_services.enterprise_identity_secret_set(
                actor=actor, enterprise_id=enterprise.pk, generate=action == "secret"
            )
            if not new_secret:
                messages.success(request, _("Signed identities are no longer required."))
                return HttpResponseRedirect(request.get_full_path())
            enterprise.refresh_from_db()
    except ChatError as refusal:
        origins_form.add_error(None, refusal.message)
    context: dict[str, Any] = {
        **manage_site.each_context(request),
        "title": _("Deploy the chat"),
        "enterprise": enterprise,
        "agents": agents,
        "kefu": kefu,
        **_links(request, enterprise, kefu),
        "origins_form": origins_form,
        "secret_masked": enterprise_services.identity_secret_masked(enterprise.identity_secret),
        "new_secret": new_secret,
        "page_url": reverse("manage:deploy"),
    }
    request.current_app = manage_site.name
    status = 400 if origins_form.errors else 200
    return TemplateResponse(request, "chat/manage/deploy.html", context, status=status)
