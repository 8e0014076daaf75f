"""The forms an agent fills in about themselves (their profile), and the captcha the login forms ask for
after failed logins."""

from __future__ import annotations

from typing import Any

from captcha.fields import CaptchaField
from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from . import lockout
from .models import User


class ProfileForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = User
        fields = ("nickname", "avatar", "language")


class CaptchaAfterFailures:
    """For an AuthenticationForm: past GOFLY_LOGIN_CAPTCHA_AFTER failed logins of the account or from the
    network (accounts.lockout), a captcha too; a wrong one is refused before the password is checked, so
    it is no guess and counts no failure."""

    fields: dict[str, Any]
    data: Any
    is_bound: bool
    request: Any

    def __init__(self, request: Any = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(request, *args, **kwargs)  # type: ignore[call-arg]
        username = self.data.get("username") if self.is_bound else None
        if lockout.captcha_required(request, username):
            self.captcha_add()

    def captcha_add(self) -> None:
        self.fields["captcha"] = CaptchaField(label=_("Type the characters in the image"))

    def clean(self) -> Any:
        if self.has_error("captcha"):  # type: ignore[attr-defined]
            return self.cleaned_data  # type: ignore[attr-defined]
        return super().clean()  # type: ignore[misc]

    def get_invalid_login_error(self) -> ValidationError:
        # This failure may be the one that makes the next attempt need a captcha: show it already.
        if "captcha" not in self.fields and lockout.captcha_required(self.request, self.data.get("username")):
            self.captcha_add()
        return super().get_invalid_login_error()  # type: ignore[misc,no-any-return]
