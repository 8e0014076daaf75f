"""The forms an agent fills in about themselves (their profile), and the captcha the login forms ask for
after failed logins."""

from __future__ import annotations

from typing import Any

from captcha.fields import CaptchaField
from django import forms
from django.core.exceptions import ValidationError
from django.utils.functional import lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.errors import ChatError
from core.files import Inspected

from . import lockout
from .avatars import AVATAR_MAX_MB, avatar_image
from .models import User


def _upload_help() -> str:
    return gettext("PNG, JPEG, GIF or WebP, up to %(max)d MB; cropped to a square.") % {"max": AVATAR_MAX_MB}


def avatar_upload_fields() -> tuple[forms.FileField, forms.BooleanField]:
    """The avatar's upload and "remove" fields, for a form about an agent (their profile, the management
    area's agent page). Of an upload, a removal and the URL field, the upload wins, then the removal."""
    upload = forms.FileField(
        label=_("Upload an avatar"),
        required=False,
        help_text=lazy(_upload_help, str)(),
        widget=forms.FileInput(attrs={"accept": "image/png,image/jpeg,image/gif,image/webp"}),
    )
    remove = forms.BooleanField(label=_("Remove the avatar (back to the default picture)"), required=False)
    return upload, remove


def avatar_upload_clean(upload: Any, *, uploader_id: int) -> Inspected | None:
    """The uploaded file as an avatar (accounts.avatars.avatar_image), or a form error saying why not."""
    if not upload:
        return None
    try:
        return avatar_image(upload, uploader_id=uploader_id)
    except ChatError as refusal:
        raise ValidationError(refusal.message, code=refusal.code) from None


class ProfileForm(forms.ModelForm):  # type: ignore[type-arg]
    avatar_file, avatar_clear = avatar_upload_fields()
    field_order = ("nickname", "avatar", "avatar_file", "avatar_clear", "language")

    class Meta:
        model = User
        fields = ("nickname", "avatar", "language")
        help_texts = {"avatar": _("Or the address of a picture kept elsewhere.")}

    def clean_avatar_file(self) -> Inspected | None:
        return avatar_upload_clean(self.cleaned_data.get("avatar_file"), uploader_id=self.instance.pk)


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
