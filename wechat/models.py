"""The WeChat channel's rows: each enterprise's official account (服务号), its secrets encrypted at rest."""

from __future__ import annotations

import base64
import binascii
import re
import secrets as random_source

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from enterprises.models import Enterprise

from .secrets import SecretUnreadableError, secret_decrypt, secret_encrypt

# WeChat's own formats (the official account console): an AppID is "wx" and 16 hexadecimal digits, an
# AppSecret 32 letters or digits, the server Token 3 to 32 letters or digits, the EncodingAESKey 43 letters
# or digits (base64 of a 32-byte AES key without its "=").
APP_ID_LENGTH = 18
APP_SECRET_LENGTH = 32
TOKEN_MAX_LENGTH = 32
AES_KEY_LENGTH = 43
GREETING_MAX_LENGTH = 600
TEMPLATE_ID_MAX_LENGTH = 64  # a customer-service text is at most 2048 bytes: 600 CJK characters fit
_APP_ID = re.compile(r"wx[0-9a-fA-F]{16}")
_APP_SECRET = re.compile(r"[0-9A-Za-z]{32}")
_TOKEN = re.compile(r"[0-9A-Za-z]{3,32}")
_AES_KEY = re.compile(r"[0-9A-Za-z]{43}")
# A template id (模板ID) as WeChat's console shows it: 43 letters, digits, "_" or "-".
TEMPLATE_ID_LENGTH = 43
TEMPLATE_REMARK_MAX_LENGTH = 200
_TEMPLATE_ID = re.compile(r"[0-9A-Za-z_-]{43}")


def validate_app_id(value: str) -> None:
    if not _APP_ID.fullmatch(value):
        raise ValidationError(_("An AppID is “wx” followed by 16 hexadecimal digits."), code="app_id")


def validate_app_secret(value: str) -> None:
    if not _APP_SECRET.fullmatch(value):
        raise ValidationError(_("An AppSecret is 32 letters or digits."), code="app_secret")


def validate_token(value: str) -> None:
    if not _TOKEN.fullmatch(value):
        raise ValidationError(_("The Token is 3 to 32 letters or digits."), code="token")


def validate_encoding_aes_key(value: str) -> None:
    if not _AES_KEY.fullmatch(value):
        raise ValidationError(_("The EncodingAESKey is 43 letters or digits."), code="encoding_aes_key")
    try:
        key = base64.b64decode(value + "=", validate=True)
    except binascii.Error:
        key = b""
    if len(key) != 32:  # what wechatpy's WeChatCrypto asserts
        raise ValidationError(_("The EncodingAESKey is 43 letters or digits."), code="encoding_aes_key")


def validate_template_id(value: str) -> None:
    """A template id from WeChat's console (an empty one, meaning "not sent", is the caller's business)."""
    if not _TEMPLATE_ID.fullmatch(value):
        raise ValidationError(
            _("A template id is 43 letters, digits, “_” or “-”, copied from WeChat's console (Template messages)."),
            code="template_id",
        )


def new_callback_key() -> str:
    """An unguessable, URL-safe key naming an account's callback URL (/wechat/<key>)."""
    return random_source.token_urlsafe(24)


def new_token() -> str:
    """A server Token for WeChat's console, when the operator chooses none: 32 letters and digits."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(random_source.choice(alphabet) for _ in range(TOKEN_MAX_LENGTH))


class MessageMode(models.TextChoices):
    """The message encryption mode chosen in WeChat's console (消息加解密方式)."""

    PLAINTEXT = "plaintext", _("plaintext")
    COMPATIBLE = "compatible", _("compatible")
    SAFE = "safe", _("safe (encrypted)")


# The encrypted columns and the names of the properties that read and write them.
SECRET_FIELDS = ("app_secret", "token", "encoding_aes_key")


class WechatAccount(models.Model):
    """An enterprise's official account. AppSecret, Token and EncodingAESKey are stored encrypted
    (wechat.secrets): read and write them through the properties of the same name, which decrypt and
    encrypt; a secret no configured key decrypts reads as "" and is listed by `secrets_lost()`. Written only
    by wechat.services; nothing here (str, repr) ever shows a secret."""

    enterprise = models.OneToOneField(
        Enterprise, on_delete=models.CASCADE, related_name="+", verbose_name=_("enterprise")
    )
    app_id = models.CharField(_("AppID"), max_length=APP_ID_LENGTH, blank=True, default="")
    app_secret_encrypted = models.TextField(
        blank=True, default="", editable=False, verbose_name=_("AppSecret (encrypted)")
    )
    token_encrypted = models.TextField(blank=True, default="", editable=False, verbose_name=_("Token (encrypted)"))
    encoding_aes_key_encrypted = models.TextField(
        blank=True, default="", editable=False, verbose_name=_("EncodingAESKey (encrypted)")
    )
    message_mode = models.CharField(
        _("message encryption mode"), max_length=16, choices=MessageMode.choices, default=MessageMode.SAFE
    )
    active_messages_allowed = models.BooleanField(
        _("active messages allowed"),
        default=True,
        help_text=_("Whether agents' replies go out as customer-service messages (a verified service account)."),
    )
    greeting = models.TextField(_("follow greeting"), blank=True, default="", max_length=GREETING_MAX_LENGTH)
    greeting_en = models.TextField(
        _("follow greeting (English)"), blank=True, default="", max_length=GREETING_MAX_LENGTH
    )
    callback_key = models.CharField(
        _("callback key"), max_length=64, unique=True, default=new_callback_key, editable=False
    )
    is_enabled = models.BooleanField(_("enabled"), default=False)
    # Web OAuth (网页授权) on the visitor page when it is opened inside WeChat: the page becomes the follower.
    oauth_enabled = models.BooleanField(
        _("web authorisation"),
        default=False,
        help_text=_(
            "Visitor pages opened inside WeChat ask for the follower's identity: the web visitor and the "
            "follower are one."
        ),
    )
    # Template messages (模板消息): a template id per event, empty = not sent; the remark line under each.
    template_new_visitor = models.CharField(
        _("template: new visitor (to agents)"), max_length=TEMPLATE_ID_MAX_LENGTH, blank=True, default=""
    )
    template_new_message = models.CharField(
        _("template: new message while away (to agents)"), max_length=TEMPLATE_ID_MAX_LENGTH, blank=True, default=""
    )
    template_reply = models.CharField(
        _("template: reply while away (to visitors)"), max_length=TEMPLATE_ID_MAX_LENGTH, blank=True, default=""
    )
    template_remark = models.CharField(_("template remark"), max_length=200, blank=True, default="")
    # The custom menu (自定义菜单) being edited, WeChat's {"button": [...]} form, and when it was last published.
    menu = models.JSONField(_("custom menu"), default=dict, blank=True)
    menu_published_at = models.DateTimeField(_("menu published at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("WeChat official account")
        verbose_name_plural = _("WeChat official accounts")

    def __str__(self) -> str:
        return self.app_id or str(_("WeChat official account"))

    def _secret(self, name: str) -> str:
        try:
            return secret_decrypt(getattr(self, f"{name}_encrypted"))
        except SecretUnreadableError:
            return ""

    @property
    def app_secret(self) -> str:
        return self._secret("app_secret")

    @app_secret.setter
    def app_secret(self, value: str) -> None:
        self.app_secret_encrypted = secret_encrypt(value)

    @property
    def token(self) -> str:
        return self._secret("token")

    @token.setter
    def token(self, value: str) -> None:
        self.token_encrypted = secret_encrypt(value)

    @property
    def encoding_aes_key(self) -> str:
        return self._secret("encoding_aes_key")

    @encoding_aes_key.setter
    def encoding_aes_key(self, value: str) -> None:
        self.encoding_aes_key_encrypted = secret_encrypt(value)

    def secrets_lost(self) -> list[str]:
        """The secrets stored but unreadable under the configured keys: they must be entered again."""
        lost = []
        for name in SECRET_FIELDS:
            try:
                secret_decrypt(getattr(self, f"{name}_encrypted"))
            except SecretUnreadableError:
                lost.append(name)
        return lost

    def is_complete(self) -> bool:
        """Whether the account can talk to WeChat: AppID, AppSecret and Token, and the AES key unless plaintext."""
        needed = [self.app_id, self.app_secret, self.token]
        if self.message_mode != MessageMode.PLAINTEXT:
            needed.append(self.encoding_aes_key)
        return all(needed)


class WechatFollower(models.Model):
    """A follower (an openid of the account) and the GoFly visitor they are: one visitor per openid, whose
    `channel` is "wechat". `last_inbound_at` opens WeChat's 48-hour window for customer-service messages."""

    enterprise = models.ForeignKey(
        "enterprises.Enterprise", on_delete=models.CASCADE, related_name="+", verbose_name=_("enterprise")
    )
    account = models.ForeignKey(
        WechatAccount, on_delete=models.CASCADE, related_name="followers", verbose_name=_("official account")
    )
    openid = models.CharField(_("OpenID"), max_length=64)
    visitor = models.OneToOneField(
        "chat.Visitor", on_delete=models.CASCADE, related_name="wechat_follower", verbose_name=_("visitor")
    )
    subscribed = models.BooleanField(_("following"), default=True)
    subscribed_at = models.DateTimeField(_("followed at"), null=True, blank=True)
    unsubscribed_at = models.DateTimeField(_("unfollowed at"), null=True, blank=True)
    last_inbound_at = models.DateTimeField(_("last message from the follower"), null=True, blank=True)
    nickname = models.CharField(_("nickname"), max_length=100, blank=True, default="")
    avatar = models.CharField(_("avatar URL"), max_length=500, blank=True, default="")
    language = models.CharField(_("language"), max_length=20, blank=True, default="")
    # When the follower last opened the visitor page inside WeChat and authorised it (web OAuth), and with
    # which scope (snsapi_userinfo or snsapi_base).
    oauth_at = models.DateTimeField(_("web authorised at"), null=True, blank=True)
    oauth_scope = models.CharField(_("web authorisation scope"), max_length=20, blank=True, default="")
    # The last template message telling the follower of a reply while away (throttled like e-mail alerts).
    reply_alerted_at = models.DateTimeField(_("reply alert sent at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("WeChat follower")
        verbose_name_plural = _("WeChat followers")
        constraints = [models.UniqueConstraint(fields=["account", "openid"], name="uniq_wechat_follower")]

    def __str__(self) -> str:
        return self.nickname or self.openid


class WechatDelivery(models.Model):
    """One message of an agent (or of GoFly: welcome, keyword reply) to a follower, and how its sending to
    WeChat went: written in the message's own transaction, so none is lost, then sent after commit and
    retried by a chore; agents see a failure's reason on the message."""

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        SENT = "sent", _("sent")
        FAILED = "failed", _("failed")

    enterprise = models.ForeignKey(
        "enterprises.Enterprise", on_delete=models.CASCADE, related_name="+", verbose_name=_("enterprise")
    )
    message = models.OneToOneField(
        "chat.Message", on_delete=models.CASCADE, related_name="wechat_delivery", verbose_name=_("message")
    )
    follower = models.ForeignKey(
        WechatFollower, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("follower")
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    errcode = models.IntegerField(_("WeChat error code"), null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=300, blank=True, default="")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("WeChat delivery")
        verbose_name_plural = _("WeChat deliveries")
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="wechat_delivery_due")]

    def __str__(self) -> str:
        return f"{self.message_id} {self.status}"


class WechatAgentBinding(models.Model):
    """An agent's WeChat (an openid of the enterprise's account), bound by scanning the QR code their console
    shows: template messages about new visitors and messages while away go there. The alert fields keep the
    throttle, like notices.AgentAlerts does for e-mail."""

    enterprise = models.ForeignKey(
        "enterprises.Enterprise", on_delete=models.CASCADE, related_name="+", verbose_name=_("enterprise")
    )
    account = models.ForeignKey(
        WechatAccount, on_delete=models.CASCADE, related_name="agent_bindings", verbose_name=_("official account")
    )
    agent = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="wechat_binding", verbose_name=_("agent")
    )
    openid = models.CharField(_("OpenID"), max_length=64)
    nickname = models.CharField(_("nickname"), max_length=100, blank=True, default="")
    bound_at = models.DateTimeField(_("bound at"), auto_now_add=True)
    alerts_enabled = models.BooleanField(_("template alerts"), default=True)
    alerted_up_to = models.BigIntegerField(default=0, editable=False, verbose_name=_("alerted up to message"))
    last_alert_at = models.DateTimeField(_("last alert sent"), null=True, blank=True, editable=False)
    failures = models.PositiveIntegerField(default=0, editable=False, verbose_name=_("failures"))
    next_attempt_at = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("next attempt at"))
    last_error = models.CharField(_("last error"), max_length=300, blank=True, default="", editable=False)

    class Meta:
        verbose_name = _("agent's WeChat")
        verbose_name_plural = _("agents' WeChat")
        constraints = [models.UniqueConstraint(fields=["account", "openid"], name="uniq_wechat_agent_openid")]

    def __str__(self) -> str:
        return self.nickname or self.openid


class WechatQrCode(models.Model):
    """A parametric QR code (带参数二维码) of the account: `kind` "bind" (temporary: an agent binds their
    WeChat by scanning it) or "route" (permanent: a visitor scanning it is routed to `agent`). `scene` is the
    scene string WeChat sends back in the subscribe/SCAN event; `ticket` names the picture."""

    class Kind(models.TextChoices):
        BIND = "bind", _("bind an agent's WeChat")
        ROUTE = "route", _("route visitors to an agent")

    enterprise = models.ForeignKey(
        "enterprises.Enterprise", on_delete=models.CASCADE, related_name="+", verbose_name=_("enterprise")
    )
    account = models.ForeignKey(
        WechatAccount, on_delete=models.CASCADE, related_name="qr_codes", verbose_name=_("official account")
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("agent")
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    scene = models.CharField(_("scene"), max_length=64)
    ticket = models.CharField(_("ticket"), max_length=200)
    url = models.CharField(_("content URL"), max_length=200, blank=True, default="")
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("WeChat QR code")
        verbose_name_plural = _("WeChat QR codes")
        constraints = [models.UniqueConstraint(fields=["account", "scene"], name="uniq_wechat_qr_scene")]

    def __str__(self) -> str:
        return self.scene


class WechatVerifyFile(models.Model):
    """A domain verification file (MP_verify_*.txt) an admin uploaded from WeChat's console, served at the
    site root (/<name>) for requests to `domain` (any host when empty)."""

    enterprise = models.ForeignKey(
        "enterprises.Enterprise", on_delete=models.CASCADE, related_name="+", verbose_name=_("enterprise")
    )
    name = models.CharField(_("file name"), max_length=64)
    content = models.CharField(_("content"), max_length=128)
    domain = models.CharField(_("domain"), max_length=253, blank=True, default="")
    uploaded_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("WeChat domain verification file")
        verbose_name_plural = _("WeChat domain verification files")
        constraints = [models.UniqueConstraint(fields=["name", "domain"], name="uniq_wechat_verify_file")]

    def __str__(self) -> str:
        return self.name
