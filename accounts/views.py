"""The two login views (console page and JWT), answering a throttled login with 429 and its reason
instead of "wrong password", and the admin's login with the same device cookie as the console's."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from rest_framework.response import Response
from rest_framework_simplejwt.views import TokenObtainPairView

from core.api.errors import error_body

from . import lockout


class ConsoleLoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def form_valid(self, form: Any) -> HttpResponse:
        return lockout.device_cookie_set(self.request, super().form_valid(form))

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
