"""The deploy page of the management area (/manage/deploy/): the enterprise's chat link and widget snippet
ready to copy for a chosen agent, a live preview, the origins allowed to embed it, and the identity secret
(generated or rotated here, with a grace for the old one; shown once, masked after; the old one never)."""

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
from enterprises.identity import identity_secret_previous_live
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


# The graces offered for a rotation (enterprises.services.IDENTITY_GRACES), in this order.
GRACE_CHOICES = [
    ("none", gettext_lazy("not at all: it stops working now")),
    ("1h", gettext_lazy("1 hour")),
    ("24h", gettext_lazy("24 hours")),
    ("7d", gettext_lazy("7 days")),
]


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


def _secret_rotate(request: HttpRequest, actor: User, enterprise: Enterprise) -> str:
    """A new identity secret for the page to show once; the old one honoured for the grace chosen."""
    grace = request.POST.get("grace", enterprise_services.IDENTITY_GRACE_DEFAULT)
    secret = enterprise_services.enterprise_identity_secret_rotate(
        actor=actor, enterprise_id=enterprise.pk, grace=grace
    )
    enterprise.refresh_from_db()
    return secret


def deploy_page(request: HttpRequest) -> HttpResponse:
    """GET: the page; POST `action`: "origins" (save the allowed origins), "secret" (generate a new identity
    secret, shown on the answer only; one that replaces another keeps the old one working for `grace`, a key
    of GRACE_CHOICES, 24 hours if not given), "secret_off" (visitors need no signed identity any more)."""
    actor = cast(User, request.user)
    enterprise = Enterprise.objects.get(pk=actor.enterprise_id or 0)  # the site let only agents in
    agents = list(User.objects.filter(enterprise=enterprise, is_active=True, deleted_at=None).order_by("username"))
    names = [agent.username for agent in agents]
    wanted = request.GET.get("kefu", "")
    kefu = wanted if wanted in names else (names[0] if names else "")
    origins_form = OriginsForm(initial={"allowed_origins": enterprise.allowed_origins})
    new_secret = secret_error = ""
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
        elif action == "secret_off":
            enterprise_services.enterprise_identity_secret_set(actor=actor, enterprise_id=enterprise.pk, generate=False)
            messages.success(request, _("Signed identities are no longer required."))
            return HttpResponseRedirect(request.get_full_path())
        elif action == "secret":
            new_secret = _secret_rotate(request, actor, enterprise)
    except ChatError as refusal:
        if action in ("secret", "secret_off"):
            secret_error = refusal.message
        else:
            origins_form.add_error(None, refusal.message)
    # When the previous secret stops working, never the secret itself.
    previous_until = enterprise.identity_secret_previous_until if identity_secret_previous_live(enterprise) else None
    context: dict[str, Any] = {
        **manage_site.each_context(request),
        "title": _("Deploy the chat"),
        "enterprise": enterprise,
        "agents": agents,
        "kefu": kefu,
        **_links(request, enterprise, kefu),
        "origins_form": origins_form,
        "secret_masked": enterprise_services.identity_secret_masked(enterprise.identity_secret),
        "previous_until": previous_until,
        "new_secret": new_secret,
        "secret_error": secret_error,
        "graces": GRACE_CHOICES,
        "grace_default": enterprise_services.IDENTITY_GRACE_DEFAULT,
        "page_url": reverse("manage:deploy"),
    }
    request.current_app = manage_site.name
    status = 400 if origins_form.errors or secret_error else 200
    return TemplateResponse(request, "chat/manage/deploy.html", context, status=status)
