"""Registration of a new enterprise with its admin account (/register), when the system configuration
allows it: behind a captcha (django-simple-captcha, images drawn here) and a per-address limit. It sits at
the top of the tower because, like `manage.py install`, it sets up what several apps hold."""

from __future__ import annotations

from typing import Any

from captcha.fields import CaptchaField
from django import forms
from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth.forms import SetPasswordMixin
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import User, username_normalise
from accounts.permissions import ROLE_ENTERPRISE_ADMIN
from accounts.services import agent_create, roles_ensure, username_available_or_raise
from core.clientip import request_client_ip
from core.errors import ChatError
from core.ratelimit import rate_limit
from enterprises.audit import audit_record
from enterprises.models import AuditAction
from enterprises.selectors import system_config

from .demo import enterprise_with_texts_create

# Registrations one address may attempt per hour (GOFLY_REGISTER_RATE), counted on every process.
_WINDOW = 3600


class RegistrationForm(SetPasswordMixin, forms.Form):
    enterprise_name = forms.CharField(label=gettext_lazy("Enterprise name"), max_length=100)
    username = forms.CharField(label=gettext_lazy("Your username"), max_length=150)
    password1, password2 = SetPasswordMixin.create_password_fields()
    captcha = CaptchaField(label=gettext_lazy("Type the characters in the image"))

    def clean_enterprise_name(self) -> str:
        name = " ".join(self.cleaned_data["enterprise_name"].split())
        if not name:
            raise ValidationError(_("Name your enterprise."))
        return name

    def clean_username(self) -> str:
        name = username_normalise(self.cleaned_data["username"])
        try:
            username_available_or_raise(name)
        except ChatError as refusal:
            raise ValidationError(refusal.message, code=refusal.code) from None
        return name

    def clean(self) -> dict[str, Any]:
        self.validate_passwords()
        self.validate_password_for_user(User(username=self.cleaned_data.get("username", "")))
        return dict(super().clean() or {})


@transaction.atomic
def enterprise_register(*, name: str, username: str, password: str) -> User:
    """A new enterprise with the default settings, a demo welcome text and offline text in both languages,
    and its first enterprise admin (who may then add agents in /manage/); audited."""
    roles_ensure()
    enterprise = enterprise_with_texts_create(name=name)
    admin = agent_create(
        enterprise=enterprise, username=username, password=password, nickname=username, role=ROLE_ENTERPRISE_ADMIN
    )
    audit_record(
        action=AuditAction.REGISTERED,
        actor=admin,
        target_type="enterprise",
        target_id=enterprise.pk,
        target_name=enterprise.name,
    )
    return admin


def register(request: HttpRequest) -> HttpResponse:
    """GET: the form; POST: a new enterprise and its admin, logged in and sent to the deploy page."""
    if not system_config().registration_open:
        message = _("Registration is closed on this server; ask its administrator for an account.")
        return render(request, "chat/unavailable.html", {"message": message}, status=404)
    form = RegistrationForm(request.POST or None)
    status = 200
    if request.method == "POST":
        try:
            limit = int(settings.GOFLY["REGISTER_RATE"])
            rate_limit(f"register:{request_client_ip(request.META) or '?'}", limit, _WINDOW)
        except ChatError as refusal:
            form.add_error(None, _("Too many registrations from your address; try again in an hour."))
            return render(request, "gofly_site/register.html", {"form": form}, status=refusal.status)
        if form.is_valid():
            data = form.cleaned_data
            admin = enterprise_register(
                name=data["enterprise_name"], username=data["username"], password=data["password1"]
            )
            login(request, admin, backend="accounts.backends.AgentModelBackend")
            return HttpResponseRedirect("/manage/deploy/")
        status = 400
    return render(request, "gofly_site/register.html", {"form": form}, status=status)
