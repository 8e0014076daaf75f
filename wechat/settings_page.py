"""The WeChat page of the management area (/manage/wechat/account/): the official account's settings, the
callback URL and Token to paste into WeChat's console, and a button testing the credentials.

AppSecret and EncodingAESKey are write-only: the form never shows them, an empty field keeps the stored
one, and the page shows them masked (wx…3f9a). The Token is shown, since it must be pasted into WeChat.
"""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import User
from core.errors import ChatError
from core.ratelimit import rate_limit
from enterprises.manage import manage_site

from . import client, services
from .models import (
    AES_KEY_LENGTH,
    APP_ID_LENGTH,
    APP_SECRET_LENGTH,
    GREETING_MAX_LENGTH,
    TEMPLATE_ID_LENGTH,
    TEMPLATE_REMARK_MAX_LENGTH,
    TOKEN_MAX_LENGTH,
    MessageMode,
    WechatAccount,
    validate_app_id,
    validate_app_secret,
    validate_encoding_aes_key,
    validate_token,
)
from .secrets import secret_masked
from .selectors import agent_bindings_of, callback_url, wechat_account_of

# Credential tests one enterprise may run per minute: each fetches a token, which WeChat counts (2000 a day).
TESTS_PER_MINUTE = 10


def _secret_input() -> forms.PasswordInput:
    return forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password", "spellcheck": "false"})


class WechatAccountForm(forms.Form):
    app_id = forms.CharField(
        label=gettext_lazy("AppID"),
        max_length=APP_ID_LENGTH,
        validators=[validate_app_id],
        help_text=gettext_lazy("From WeChat's console: Settings and development › Basic configuration."),
    )
    app_secret = forms.CharField(
        label=gettext_lazy("AppSecret"),
        required=False,
        max_length=APP_SECRET_LENGTH,
        validators=[validate_app_secret],
        widget=_secret_input(),
        help_text=gettext_lazy("Stored encrypted and never shown again; leave empty to keep the stored one."),
    )
    token = forms.CharField(
        label=gettext_lazy("Token"),
        required=False,
        max_length=TOKEN_MAX_LENGTH,
        validators=[validate_token],
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        help_text=gettext_lazy(
            "3 to 32 letters or digits of your choice, also entered in WeChat's console; empty: a new random one."
        ),
    )
    encoding_aes_key = forms.CharField(
        label=gettext_lazy("EncodingAESKey"),
        required=False,
        max_length=AES_KEY_LENGTH,
        validators=[validate_encoding_aes_key],
        widget=_secret_input(),
        help_text=gettext_lazy(
            "43 letters or digits, generated in WeChat's console; needed in compatible and safe mode. Stored "
            "encrypted and never shown again; leave empty to keep the stored one."
        ),
    )
    message_mode = forms.ChoiceField(
        label=gettext_lazy("Message encryption mode"),
        choices=MessageMode.choices,
        help_text=gettext_lazy("The same as chosen in WeChat's console."),
    )
    active_messages_allowed = forms.BooleanField(
        label=gettext_lazy("Active messages allowed"),
        required=False,
        help_text=gettext_lazy(
            "Agents' replies go out as customer-service messages (a verified service account, within 48 hours "
            "of the follower's last message)."
        ),
    )
    oauth_enabled = forms.BooleanField(
        label=gettext_lazy("Web authorisation"),
        required=False,
        help_text=gettext_lazy(
            "The chat page opened inside WeChat asks for the follower's identity first (snsapi_userinfo, or "
            "snsapi_base when declined): the web visitor and the follower become one visitor with one history. "
            "Enter this site's domain as the web authorisation domain in WeChat's console (Settings and "
            "development › Interface permissions › Web authorisation), with its MP_verify file."
        ),
    )
    greeting = forms.CharField(
        label=gettext_lazy("Greeting on follow"),
        required=False,
        max_length=GREETING_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
    )
    greeting_en = forms.CharField(
        label=gettext_lazy("Greeting on follow (English)"),
        required=False,
        max_length=GREETING_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=gettext_lazy("For followers whose WeChat is in English; empty: the greeting above."),
    )
    is_enabled = forms.BooleanField(label=gettext_lazy("Enabled"), required=False)
    template_new_visitor = forms.CharField(
        label=gettext_lazy("Template: new visitor (to agents)"),
        required=False,
        max_length=TEMPLATE_ID_LENGTH,
        widget=forms.TextInput(attrs={"size": 50, "spellcheck": "false", "autocomplete": "off"}),
        help_text=gettext_lazy(
            "A template id from WeChat's console (Template messages), sent to away agents who bound their WeChat "
            "when new visitors write; empty: not sent."
        ),
    )
    template_new_message = forms.CharField(
        label=gettext_lazy("Template: new messages while away (to agents)"),
        required=False,
        max_length=TEMPLATE_ID_LENGTH,
        widget=forms.TextInput(attrs={"size": 50, "spellcheck": "false", "autocomplete": "off"}),
        help_text=gettext_lazy("Sent to away agents who bound their WeChat when visitors write; empty: not sent."),
    )
    template_reply = forms.CharField(
        label=gettext_lazy("Template: a reply while away (to followers)"),
        required=False,
        max_length=TEMPLATE_ID_LENGTH,
        widget=forms.TextInput(attrs={"size": 50, "spellcheck": "false", "autocomplete": "off"}),
        help_text=gettext_lazy(
            "Tells a follower there is a reply when WeChat's 48-hour window is closed and the reply cannot be "
            "sent as a customer-service message; empty: not sent."
        ),
    )
    template_remark = forms.CharField(
        label=gettext_lazy("Template remark"),
        required=False,
        max_length=TEMPLATE_REMARK_MAX_LENGTH,
        widget=forms.TextInput(attrs={"size": 60}),
        help_text=gettext_lazy("The last line (remark) of every template message; empty: a default line."),
    )

    def _greeting(self, name: str) -> str:
        try:
            return services.greeting_check(self.cleaned_data.get(name, ""))
        except ChatError as refusal:
            raise ValidationError(refusal.message) from None

    def _template_id(self, name: str) -> str:
        try:
            return services.template_id_check(self.cleaned_data.get(name, ""))
        except ChatError as refusal:
            raise ValidationError(refusal.message) from None

    def clean_template_new_visitor(self) -> str:
        return self._template_id("template_new_visitor")

    def clean_template_new_message(self) -> str:
        return self._template_id("template_new_message")

    def clean_template_reply(self) -> str:
        return self._template_id("template_reply")

    def clean_template_remark(self) -> str:
        try:
            return services.template_remark_check(self.cleaned_data.get("template_remark", ""))
        except ChatError as refusal:
            raise ValidationError(refusal.message) from None

    def clean_greeting(self) -> str:
        return self._greeting("greeting")

    def clean_greeting_en(self) -> str:
        return self._greeting("greeting_en")


def _initial(account: WechatAccount | None) -> dict[str, Any]:
    if account is None:
        return {"message_mode": MessageMode.SAFE, "active_messages_allowed": True}
    return {
        "app_id": account.app_id,
        "token": account.token,
        "message_mode": account.message_mode,
        "active_messages_allowed": account.active_messages_allowed,
        "oauth_enabled": account.oauth_enabled,
        "greeting": account.greeting,
        "greeting_en": account.greeting_en,
        "is_enabled": account.is_enabled,
        "template_new_visitor": account.template_new_visitor,
        "template_new_message": account.template_new_message,
        "template_reply": account.template_reply,
        "template_remark": account.template_remark,
    }


# What the operator can do about WeChat's usual refusals of a token request.
_HINTS = {
    40013: gettext_lazy("The AppID is not an official account's."),
    40125: gettext_lazy("The AppSecret is wrong (reset it in WeChat's console if lost)."),
    40164: gettext_lazy("Add this server's outgoing IP address to the IP whitelist in WeChat's console."),
    89503: gettext_lazy("Add this server's outgoing IP address to the IP whitelist in WeChat's console."),
}


def _credentials_test(account: WechatAccount | None) -> tuple[bool, str]:
    """(worked, what to tell the operator) of fetching a token with the stored credentials."""
    if account is None:
        return False, _("Save the AppID and AppSecret first.")
    rate_limit(f"wechat-test:{account.enterprise_id}", TESTS_PER_MINUTE, 60)
    try:
        seconds = client.credentials_check(account)
    except client.WechatNotConfiguredError:
        if "app_secret" in account.secrets_lost():
            return False, _("The stored AppSecret cannot be read any more: enter it again.")
        return False, _("Save the AppID and AppSecret first.")
    except client.WechatUnavailableError as failure:
        return False, _("WeChat could not be reached (%(reason)s). Try again later.") % {"reason": failure.errmsg}
    except client.WechatError as refusal:
        text = _("WeChat refused: errcode %(errcode)s, %(errmsg)s") % {
            "errcode": refusal.errcode,
            "errmsg": refusal.errmsg,
        }
        hint = _HINTS.get(refusal.errcode or 0)
        return False, f"{text} {hint}" if hint else text
    return True, _("WeChat accepted the credentials: it issued an access token valid for %(minutes)d minutes.") % {
        "minutes": seconds // 60
    }


_SECRET_LABELS = {
    "app_secret": gettext_lazy("AppSecret"),
    "token": gettext_lazy("Token"),
    "encoding_aes_key": gettext_lazy("EncodingAESKey"),
}


def _save(request: HttpRequest, actor: User, form: WechatAccountForm) -> bool:
    """Save a valid form through the service; False (the refusal on the form) if it refuses."""
    data = form.cleaned_data
    try:
        services.wechat_account_save(
            actor=actor,
            app_id=data["app_id"],
            app_secret=data["app_secret"],
            token=data["token"],
            encoding_aes_key=data["encoding_aes_key"],
            message_mode=data["message_mode"],
            active_messages_allowed=data["active_messages_allowed"],
            oauth_enabled=data["oauth_enabled"],
            greeting=data["greeting"],
            greeting_en=data["greeting_en"],
            is_enabled=data["is_enabled"],
            template_new_visitor=data["template_new_visitor"],
            template_new_message=data["template_new_message"],
            template_reply=data["template_reply"],
            template_remark=data["template_remark"],
        )
    except ChatError as refusal:
        form.add_error(None, refusal.message)
        return False
    messages.success(request, _("WeChat settings saved."))
    return True


def wechat_account_page(request: HttpRequest) -> HttpResponse:
    """GET: the page; POST `action`: "save" (the form) or "test" (fetch a token with the stored credentials
    and say what WeChat answered)."""
    actor = cast(User, request.user)
    enterprise_id = actor.enterprise_id or 0  # the site let only an enterprise's admins in
    account = wechat_account_of(enterprise_id)
    form = WechatAccountForm(initial=_initial(account))
    action = request.POST.get("action") if request.method == "POST" else None
    test: tuple[bool, str] | None = None
    if action == "save":
        form = WechatAccountForm(request.POST)
        if form.is_valid() and _save(request, actor, form):
            return HttpResponseRedirect(request.get_full_path())
    elif action == "test":
        try:
            test = _credentials_test(account)
        except ChatError as refusal:  # the rate limit
            test = (False, refusal.message)
    context: dict[str, Any] = {
        **manage_site.each_context(request),
        "title": _("WeChat official account"),
        "account": account,
        "form": form,
        "callback_url": callback_url(account, request) if account else "",
        "token": account.token if account else "",
        "app_secret_masked": secret_masked(account.app_secret) if account else "",
        "aes_key_masked": secret_masked(account.encoding_aes_key) if account else "",
        "secrets_lost": [_SECRET_LABELS[name] for name in account.secrets_lost()] if account else [],
        "test": test,
        "bindings": agent_bindings_of(enterprise_id) if account else [],
        "page_url": reverse("manage:wechat_account"),
    }
    request.current_app = manage_site.name
    status = 400 if form.errors else 200
    return TemplateResponse(request, "wechat/manage/account.html", context, status=status)
