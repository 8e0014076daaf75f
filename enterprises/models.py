"""Enterprises (商户, the tenants), their chat settings and IP blacklists."""

from __future__ import annotations

import ipaddress
import zoneinfo
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def validate_origin_lines(value: str) -> None:
    from .origins import origin_normalize  # it reads Enterprise

    bad = [line.strip() for line in value.splitlines() if line.strip() and not origin_normalize(line)]
    if bad:
        raise ValidationError(
            _("Not an origin (scheme://host[:port], no path): %(lines)s"), params={"lines": ", ".join(bad[:5])}
        )


def validate_time_zone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(_("Not a time zone: %(value)s (e.g. Asia/Shanghai)."), params={"value": value}) from None


def validate_upload_mb(value: int) -> None:
    limit = settings.GOFLY["UPLOAD_MAX_MB"]
    if value > limit:
        raise ValidationError(_("At most %(limit)d MB on this server (GOFLY_UPLOAD_MAX_MB)."), params={"limit": limit})


def validate_origin(value: str) -> None:
    from .origins import origin_normalize  # it reads Enterprise

    if value.strip() and not origin_normalize(value):
        raise ValidationError(_("Not an origin (scheme://host[:port], no path): %(value)s"), params={"value": value})


def validate_landing_domain(value: str) -> None:
    """An origin whose host this server answers to (ALLOWED_HOSTS): anything else would make the platform's
    own chat links an open redirect."""
    from .origins import origin_normalize, served_here  # they read Enterprise

    validate_origin(value)
    normal = origin_normalize(value) if value.strip() else None
    if normal is not None and not served_here(normal):
        raise ValidationError(
            _("%(value)s is not one of this server's hosts (ALLOWED_HOSTS)."), params={"value": normal}
        )


class Enterprise(models.Model):
    name = models.CharField(_("name"), max_length=100)
    offline_text = models.TextField(
        _("offline text"), blank=True, default="", help_text=_("Shown to visitors while no agent is online.")
    )
    offline_text_en = models.TextField(
        _("offline text (English)"),
        blank=True,
        default="",
        help_text=_("Shown instead to visitors who read English; empty: the offline text above."),
    )
    allowed_origins = models.TextField(
        _("allowed origins"),
        blank=True,
        default="",
        validators=[validate_origin_lines],
        help_text=_(
            "One origin per line (https://shop.example.com) whose pages may run the chat widget and frame the "
            "chat page; empty allows any. GoFly's own pages always may."
        ),
    )
    landing_domain = models.CharField(
        _("landing domain"),
        max_length=200,
        blank=True,
        default="",
        validators=[validate_landing_domain],
        help_text=_(
            "An origin (https://chat.example.com) where the visitor chat page is served: a chat link opened on "
            "any other host of this server is redirected there, with the same path and query. It must be one of "
            "this server's hosts. Empty: no redirect."
        ),
    )
    max_conversations_per_agent = models.PositiveSmallIntegerField(
        _("concurrent conversations per agent"),
        default=10,
        help_text=_("Open conversations routing gives an agent at once (0: no limit); agents may have their own."),
    )
    auto_close_minutes = models.PositiveIntegerField(
        _("close after inactivity (minutes)"),
        default=30,
        help_text=_("A conversation with no message for this long is closed (0: never)."),
    )
    upload_image_max_mb = models.PositiveSmallIntegerField(
        _("largest image (MB)"),
        default=10,
        validators=[MinValueValidator(1), validate_upload_mb],
        help_text=_("Images larger than this are refused. At most the server's GOFLY_UPLOAD_MAX_MB."),
    )
    upload_file_max_mb = models.PositiveSmallIntegerField(
        _("largest file (MB)"),
        default=20,
        validators=[MinValueValidator(1), validate_upload_mb],
        help_text=_("Files larger than this are refused. At most the server's GOFLY_UPLOAD_MAX_MB."),
    )
    identity_secret = models.CharField(
        _("identity secret"),
        max_length=128,
        blank=True,
        default="",
        help_text=_(
            "When set, visitors must come with an identity (visitor_id, name, avatar) signed with this secret "
            "(HMAC-SHA256, see the README); a signed identity resumes its visitor on any device. Keep it on your "
            "server: it is never sent to a browser. Empty: anyone may chat, as a new visitor."
        ),
    )
    identity_secret_previous = models.CharField(
        _("previous identity secret"), max_length=128, blank=True, default="", editable=False
    )
    identity_secret_previous_until = models.DateTimeField(
        _("previous identity secret valid until"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("After a rotation, identities and visitor tokens of the previous secret are honoured until then."),
    )
    time_zone = models.CharField(
        _("time zone"),
        max_length=64,
        default=settings.TIME_ZONE,
        validators=[validate_time_zone],
        help_text=_("The statistics' days begin at midnight here."),
    )
    max_agents = models.PositiveIntegerField(
        _("agents at most"),
        null=True,
        blank=True,
        help_text=_(
            "How many agents (enabled or disabled) the enterprise may have; empty: no cap. Set by superadmins."
        ),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("enterprise")
        verbose_name_plural = _("enterprises")
        permissions = [
            ("manage_agents", _("Can manage the enterprise's agents")),
            ("manage_settings", _("Can change the enterprise's settings")),
        ]

    def __str__(self) -> str:
        return f"{self.name} (#{self.pk})"

    def offline_text_in(self, language: str) -> str:
        """The offline text for a reader of `language` (a settings.LANGUAGES code): the English one for English
        readers, the other for the rest; either stands in for the other when it is empty."""
        first, second = (
            (self.offline_text_en, self.offline_text) if language == "en" else (self.offline_text, self.offline_text_en)
        )
        return first or second


def ip_key(ip: str | None) -> str | None:
    """An address as 32 hex digits, IPv4 mapped into IPv6 (::ffff:a.b.c.d), or None if it is not one.

    Fixed width, so that string order is address order: a network is matched with `start <= key <= end`
    inside the query that needs it, on any database. Mapping IPv4 makes `::ffff:7.7.7.7` (what a
    dual-stack socket reports) the same key as `7.7.7.7`.
    """
    if not ip:
        return None
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return None
    number = int(address) | (0xFFFF << 32) if address.version == 4 else int(address)
    return f"{number:032x}"


def ip_network_of(ip: str | None, v4_prefix: int, v6_prefix: int) -> str | None:
    """The network of `ip` with the given prefix for its family (an IPv4-mapped IPv6 address counts as
    IPv4), as text such as "203.0.113.0/24"; None if `ip` is not an address."""
    try:
        address = ipaddress.ip_address((ip or "").strip())
    except ValueError:
        return None
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    prefix = v4_prefix if address.version == 4 else v6_prefix
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def ip_network_parse(value: str) -> tuple[str, str, str]:
    """(the network as shown, its first and last address as ip_key) of an address or a CIDR network;
    ValueError if it is neither. Host bits are dropped (10.0.0.5/24 is 10.0.0.0/24): the range is what counts."""
    network: ipaddress.IPv4Network | ipaddress.IPv6Network = ipaddress.ip_network(value.strip(), strict=False)
    mapped = network.network_address.ipv4_mapped if isinstance(network, ipaddress.IPv6Network) else None
    if mapped is not None and network.prefixlen >= 96:  # shown, and kept unique, in the form people write
        network = ipaddress.IPv4Network(f"{mapped}/{network.prefixlen - 96}")
    shown = str(network.network_address) if network.prefixlen == network.max_prefixlen else str(network)
    first, last = ip_key(str(network.network_address)), ip_key(str(network.broadcast_address))
    assert first is not None and last is not None  # they are addresses
    return shown, first, last


_IPV4_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")


def ip_network_prefix(value: str) -> tuple[int, int]:
    """(IP version, prefix length) of a network as ip_network_parse shows it, for the width rules of
    blocks (chat.blacklist). An IPv6 network that holds every IPv4-mapped address holds every IPv4
    visitor too (ip_key maps them there), so it counts as IPv4's 0.0.0.0/0."""
    network = ipaddress.ip_network(value, strict=False)
    if isinstance(network, ipaddress.IPv6Network) and _IPV4_MAPPED.subnet_of(network):
        return 4, 0
    return network.version, network.prefixlen


def ip_network_is_everything(value: str) -> bool:
    """Whether a network (as ip_network_parse shows it) holds every address of its family, for IPv4
    visitors ::ffff:0:0/96 and what holds it included: no blacklist entry may."""
    return ip_network_prefix(value)[1] == 0


def whole_address_space_error() -> ValidationError:
    return ValidationError(_("A block cannot hold every address of the internet."), code="too_wide")


def validate_ip_network(value: str) -> None:
    try:
        shown = ip_network_parse(value)[0]
    except ValueError:
        raise ValidationError(
            _("Enter an IP address (203.0.113.7) or a network (203.0.113.0/24)."), code="invalid"
        ) from None
    if ip_network_is_everything(shown):
        raise whole_address_space_error()


class Block(models.Model):
    """What every blacklist entry records: why, until when (None: for ever), by whom and since when."""

    reason = models.CharField(_("reason"), max_length=200, blank=True, default="")
    expires_at = models.DateTimeField(
        _("blocked until"), null=True, blank=True, help_text=_("Empty: blocked until removed.")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("blocked by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        abstract = True

    def active(self, now: Any = None) -> bool:
        return block_live(self.expires_at, now)


def block_live(expires_at: Any, now: Any = None) -> bool:
    """Whether a blacklist entry that expires at `expires_at` (None: never) holds at `now` (default: now)."""
    return expires_at is None or expires_at > (now or timezone.now())


class IPBlacklist(Block):
    """An address or a network (CIDR) whose visitors an enterprise refuses, until `expires_at` (None: for
    ever). Blocks of one visitor by id are `chat.VisitorBlock`; chat.blacklist checks and lists both.
    """

    enterprise = models.ForeignKey(
        Enterprise, on_delete=models.CASCADE, related_name="ip_blacklist", verbose_name=_("enterprise")
    )
    network = models.CharField(
        _("IP address or network"),
        max_length=43,
        validators=[validate_ip_network],
        help_text=_("An address (203.0.113.7, 2001:db8::1) or a network in CIDR form (203.0.113.0/24)."),
    )
    # ip_key of the first and last address; derived from `network` on every save.
    start = models.CharField(max_length=32, editable=False, verbose_name=_("first address"))
    end = models.CharField(max_length=32, editable=False, verbose_name=_("last address"))

    class Meta:
        verbose_name = _("blacklisted IP")
        verbose_name_plural = _("IP blacklist")
        constraints = [models.UniqueConstraint(fields=["enterprise", "network"], name="uniq_blacklist_network")]
        indexes = [models.Index(fields=["enterprise", "start"], name="blacklist_ent_start")]

    def __str__(self) -> str:
        return self.network

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.network, self.start, self.end = ip_network_parse(self.network)
        super().save(*args, **kwargs)

    def clean(self) -> None:
        # Normalised before the uniqueness check, so 7.7.7.7 and 7.7.7.7/32 are one entry.
        try:
            self.network = ip_network_parse(self.network)[0]
        except ValueError:
            pass  # the field's validator has said so


class AuditAction(models.TextChoices):
    """What the audit log records (enterprises.audit.audit_record)."""

    LOGIN = "login", _("logged in")
    LOGIN_FAILED = "login_failed", _("failed to log in")
    AGENT_CREATED = "agent_created", _("added an agent")
    AGENT_CHANGED = "agent_changed", _("changed an agent")
    AGENT_DISABLED = "agent_disabled", _("disabled an agent")
    AGENT_ENABLED = "agent_enabled", _("enabled an agent")
    AGENT_DELETED = "agent_deleted", _("deleted an agent")
    PASSWORD_RESET = "password_reset", _("reset a password")
    PASSWORD_CHANGED = "password_changed", _("changed their password")
    ROLE_CREATED = "role_created", _("created a role")
    ROLE_CHANGED = "role_changed", _("changed a role")
    ROLE_DELETED = "role_deleted", _("deleted a role")
    SETTINGS_CHANGED = "settings_changed", _("changed settings")
    BLOCK_ADDED = "block_added", _("blocked")
    BLOCK_LIFTED = "block_lifted", _("lifted a block")
    HISTORY_CLEARED = "history_cleared", _("cleared a visitor's history")
    IDENTITY_SECRET_SET = "identity_secret_set", _("set the identity secret")
    IDENTITY_SECRET_ROTATED = "identity_secret_rotated", _("rotated the identity secret")
    REGISTERED = "registered", _("registered the enterprise")
    ENTERPRISE_SUSPENDED = "enterprise_suspended", _("suspended the enterprise")
    ENTERPRISE_RESUMED = "enterprise_resumed", _("resumed the enterprise")
    ENTERPRISE_DELETED = "enterprise_deleted", _("deleted the enterprise")


class AuditEntry(models.Model):
    """Who did what to whom, when and from where. Written only by enterprises.audit.audit_record; never
    edited. Names are kept as they were, so an entry still reads right after its actor or target is gone."""

    enterprise = models.ForeignKey(
        Enterprise, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("enterprise")
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("who"),
    )
    actor_name = models.CharField(_("who"), max_length=150, blank=True, default="")
    action = models.CharField(_("action"), max_length=32, choices=AuditAction.choices)
    target_type = models.CharField(_("target type"), max_length=32, blank=True, default="")
    target_id = models.CharField(_("target id"), max_length=64, blank=True, default="")
    target_name = models.CharField(_("target"), max_length=200, blank=True, default="")
    address = models.GenericIPAddressField(_("address"), null=True, blank=True)
    details = models.JSONField(_("details"), default=dict, blank=True)
    created_at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit log")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["enterprise", "-created_at"], name="audit_ent_created")]

    def __str__(self) -> str:
        return f"{self.actor_name} {self.action} {self.target_name}".strip()


class SystemConfig(models.Model):
    """The platform's one row of settings, edited by superadmins in /admin: what every page says of the site
    and whether anyone may register an enterprise (enterprises.selectors.system_config reads it)."""

    site_title = models.CharField(_("site title"), max_length=100, default="GoFly")
    keywords = models.CharField(_("keywords"), max_length=300, blank=True, default="")
    description = models.CharField(_("description"), max_length=500, blank=True, default="")
    copyright = models.CharField(_("copyright"), max_length=200, blank=True, default="")
    home_zh = models.TextField(
        _("home page (Chinese)"),
        blank=True,
        default="",
        max_length=20000,
        help_text=_(
            "Rich text shown at / to Chinese readers (bold, italic, lists, links); empty: / opens the console."
        ),
    )
    home_en = models.TextField(
        _("home page (English)"),
        blank=True,
        default="",
        max_length=20000,
        help_text=_("The same for English readers; either one stands in for the other when it is empty."),
    )
    default_language = models.CharField(
        _("default language"),
        max_length=10,
        choices=settings.LANGUAGES,
        default="zh-hans",
        help_text=_(
            "The language of pages for readers whose browser asks for none of GoFly's languages and who have "
            "not chosen one."
        ),
    )
    registration_open = models.BooleanField(
        _("registration open"),
        default=False,
        help_text=_("Anyone may register an enterprise with its admin account at /register (behind a captcha)."),
    )

    class Meta:
        verbose_name = _("system configuration")
        verbose_name_plural = _("system configuration")

    def __str__(self) -> str:
        return str(_("system configuration"))
