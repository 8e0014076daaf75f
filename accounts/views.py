"""The two login views (console page and JWT), answering a throttled login with 429 and its reason
instead of "wrong password", and the admin's login with the same device cookie as the console's; an
agent's own profile and password page; uploaded avatars, served to anyone."""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib import admin
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework.response import Response
from rest_framework_simplejwt.views import TokenObtainPairView

from core.api.errors import error_body
from core.api.schema import errors

from . import avatars, lockout, services
from .forms import CaptchaAfterFailures, ProfileForm
from .models import User
from .tokens import TokenObtainSerializer


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


@extend_schema_view(
    post=extend_schema(
        responses={
            200: TokenObtainSerializer,
            **errors(
                {
                    401: "`no_active_account`: a wrong username or password, or a disabled account",
                    429: "`locked_out` (with Retry-After): too many failed logins; tell the user, do not retry",
                }
            ),
        }
    )
)
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
        profile_form = ProfileForm(request.POST, request.FILES, instance=User.objects.get(pk=user.pk))
        if profile_form.is_valid():
            return _profile_saved(user, profile_form.cleaned_data)
    invalid = profile_form.errors or password_form.errors
    context = {
        "profile_form": profile_form,
        "password_form": password_form,
        "saved": request.GET.get("saved"),
        "avatar": User.objects.get(pk=user.pk).avatar_url,
    }
    return render(request, "accounts/profile.html", context, status=400 if invalid else 200)


def _profile_saved(user: User, data: dict[str, Any]) -> HttpResponse:
    """Save a valid profile form: the fields, then the avatar's upload or removal (which wins over the
    URL field), together."""
    with transaction.atomic():
        services.profile_update(user=user, nickname=data["nickname"], avatar=data["avatar"], language=data["language"])
        if data["avatar_file"] is not None or data["avatar_clear"]:
            services.agent_avatar_set(actor=user, agent_id=user.pk, image=data["avatar_file"])
    response = HttpResponseRedirect(f"{reverse('account')}?saved=profile")
    if not data["language"]:
        response.delete_cookie(settings.LANGUAGE_COOKIE_NAME)
    return language_cookie_set(response, data["language"])


# What an avatar is allowed to be when a browser opens it: an image, nothing that runs (chat.views.media's).
_AVATAR_POLICY = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"


@require_safe
async def avatar_media(request: HttpRequest, enterprise_id: str, token: str) -> HttpResponse:
    """`/media/avatars/<enterprise>/<token>.webp`: an uploaded avatar (accounts.avatars), to anyone: visitors
    see it beside the agent's messages. Always the WebP we wrote, never sniffed, shown inline only. Read
    off the request's thread, as chat.views.media reads uploads: a slow storage holds up no other view."""
    name = avatars.avatar_path_name(enterprise_id, token)
    if name is None:
        raise Http404("no such avatar")
    try:
        body = await sync_to_async(avatars.avatar_read, thread_sensitive=False)(name)
    except (OSError, ValueError):  # missing (FileNotFoundError), or a storage that refuses the name
        raise Http404("no such avatar") from None
    response = HttpResponse(body if request.method == "GET" else b"", content_type=avatars.CONTENT_TYPE)
    response["Content-Length"] = str(len(body))
    response["Content-Disposition"] = 'inline; filename="avatar.webp"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = _AVATAR_POLICY
    setattr(response, "_csp_exempt", True)  # noqa: B010  # exactly this policy (django-csp leaves it)
    # A name's bytes never change (a new upload gets a new name), and everyone may see them.
    response["Cache-Control"] = "public, max-age=31536000, immutable"
    return response
