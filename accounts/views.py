"""The two login views (console page and JWT), answering a lock-out with 429 instead of "wrong password"."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import views as auth_views
from django.http import HttpResponse
from rest_framework.response import Response
from rest_framework_simplejwt.views import TokenObtainPairView

from chat.api.errors import error_body

from . import lockout


class ConsoleLoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def form_invalid(self, form: Any) -> HttpResponse:
        if not lockout.locked_out(self.request):
            return super().form_invalid(form)
        response = self.render_to_response(self.get_context_data(form=form, lockout=lockout.lockout_message()))
        response.status_code = 429
        response["Retry-After"] = str(lockout.retry_after())
        return response


class TokenObtainView(TokenObtainPairView):
    def handle_exception(self, exc: Exception) -> Response:
        # simplejwt reports a refused login as "no active account"; a lock-out must say what it is.
        if lockout.locked_out(self.request):
            return Response(
                error_body("locked_out", lockout.lockout_message()),
                status=429,
                headers={"Retry-After": str(lockout.retry_after())},
            )
        return super().handle_exception(exc)
