"""The two login views (console page and JWT), answering a throttled login with 429 and its reason
instead of "wrong password", and the admin's login with the same device cookie as the console's; an
agent's own profile and password page."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from rest_framework.response import Response
from rest_framework_simplejwt.views import TokenObtainPairView

from core.api.errors import error_body

from . import lockout, services
from .forms import CaptchaAfterFailures, ProfileForm
from .models import User


class ConsoleLoginForm(CaptchaAfterFailures, AuthenticationForm):
    pass


class ConsoleLoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    redirect_authenticated_user = True
    authentication_form = ConsoleLoginForm

    def form_valid(self, form: Any) -> HttpResponse:
        response = lockout.device_cookie_set(self.request, super().form_valid(form))
        return language_cookie_set(response, getattr(form.get_user(), "language", ""))

    def form_invalid(self, form: Any) -> HttpResponse:
        refusal = lockout.login_refusal(self.request)
        if refusal is None:
            return super().form_invalid(form)
        message, retry_after = refusal
        response = self.render_to_response(self.get_context_data(form=form, lockout=message))
        response.status_code = 429
        response["Retry-After"] = str(retry_after)
        return response


def admin_login(request: HttpRequest, extra_context: Any = None) -> HttpResponse:
    """Django admin's login view, giving the browser the device cookie after a successful login."""
    return lockout.device_cookie_set(request, admin.site.login(request, extra_context))


class TokenObtainView(TokenObtainPairView):
    def handle_exception(self, exc: Exception) -> Response:
        # simplejwt reports a refused login as "no active account"; a throttled one must say what it is.
        refusal = lockout.login_refusal(self.request)
        if refusal is not None:
            message, retry_after = refusal
            return Response(error_body("locked_out", message), status=429, headers={"Retry-After": str(retry_after)})
        return super().handle_exception(exc)


def language_cookie_set(response: HttpResponse, language: str) -> HttpResponse:
    """The browser asks for the agent's chosen console language from now on (Django's language cookie,
    read by LocaleMiddleware); no choice leaves the browser's own Accept-Language to decide."""
    if language:
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            language,
            max_age=365 * 24 * 3600,
            samesite="Lax",
            secure=settings.SESSION_COOKIE_SECURE,
        )
    return response


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    """An agent's own name, avatar and console language, and their password (the old one first)."""
    user: User = request.user  # type: ignore[assignment]
    if not user.is_agent:
        message = _("This page is for agents; superadmins work in /admin.")
        return render(request, "chat/unavailable.html", {"message": message}, status=403)
    profile_form = ProfileForm(instance=User.objects.get(pk=user.pk))
    password_form = PasswordChangeForm(user)
    if request.method == "POST" and request.POST.get("form") == "password":
        password_form = PasswordChangeForm(user, request.POST)
        if password_form.is_valid():
            services.password_change(user=user, password=password_form.cleaned_data["new_password1"])
            update_session_auth_hash(request, user)  # this session stays; the others end
            return HttpResponseRedirect(f"{reverse('account')}?saved=password")
    elif request.method == "POST":
        profile_form = ProfileForm(request.POST, instance=User.objects.get(pk=user.pk))
        if profile_form.is_valid():
            data = profile_form.cleaned_data
            services.profile_update(
                user=user, nickname=data["nickname"], avatar=data["avatar"], language=data["language"]
            )
            response = HttpResponseRedirect(f"{reverse('account')}?saved=profile")
            if not data["language"]:
                response.delete_cookie(settings.LANGUAGE_COOKIE_NAME)
            return language_cookie_set(response, data["language"])
    invalid = profile_form.errors or password_form.errors
    context = {"profile_form": profile_form, "password_form": password_form, "saved": request.GET.get("saved")}
    return render(request, "accounts/profile.html", context, status=400 if invalid else 200)
