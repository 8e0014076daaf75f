"""Visitors, their conversations and messages: the persisted half of the chat."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from enterprises.models import Block


class ExactCharField(models.CharField):  # type: ignore[type-arg]
    """A CharField compared byte for byte on every database. MariaDB's default utf8mb4_unicode_ci collation
    compares case- and accent-insensitively, so `CaseUser` found the row of `caseuser`; SQLite and
    PostgreSQL compare exactly already. Keep the collation if the column is ever altered: a plain
    CharField there would silently bring the insensitive comparison back."""

    def db_parameters(self, connection: Any) -> dict[str, Any]:
        params = super().db_parameters(connection)
        if connection.vendor == "mysql":
            params["collation"] = "utf8mb4_bin"
        return params


class Visitor(models.Model):
    enterprise = models.ForeignKey(
        "enterprises.Enterprise", on_delete=models.CASCADE, related_name="visitors", verbose_name=_("enterprise")
    )
    # The public id (a UUID we issue, or the operator's own id); the primary key never leaves the server.
    # Compared exactly: a signed `CaseUser` is not the visitor `caseuser`.
    visitor_id = ExactCharField(_("visitor id"), max_length=64)
    # Whether the enterprise's server signed this visitor_id (enterprises.identity): only such a visitor is resumed by
    # a signed login; one created unsigned under the same id (before verification was on) is set aside.
    identity_verified = models.BooleanField(_("identity verified"), default=False)
    name = models.CharField(_("name"), max_length=100)
    # The remark name agents give the visitor (chat.workspace): shown first in the console, never to the visitor.
    real_name = models.CharField(_("remark name"), max_length=100, blank=True, default="")
    avatar = models.CharField(_("avatar URL"), max_length=300, blank=True, default="")
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="visitors",
        # Who serves the visitor is the open conversation's assignee; this is only a routing preference.
        help_text=_("The agent the visitor asked for (kefu_id): preferred when a conversation opens."),
        verbose_name=_("agent"),
    )
    # Where the visitor talks from: "web" (the chat page and widget) or a channel app's (wechat: a follower of
    # the enterprise's official account, created by that app). Their conversations open on it.
    channel = models.CharField(_("channel"), max_length=20, default="web", editable=False)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    # Where and what from, worked out at login (core.clientinfo): `city` is the location as shown
    # ("广东 深圳"), the parts beside it.
    city = models.CharField(_("location"), max_length=100, blank=True, default="")
    country = models.CharField(_("country"), max_length=50, blank=True, default="")
    region = models.CharField(_("province / region"), max_length=50, blank=True, default="")
    isp = models.CharField(_("ISP"), max_length=50, blank=True, default="")
    os = models.CharField(_("operating system"), max_length=50, blank=True, default="")
    browser = models.CharField(_("browser"), max_length=50, blank=True, default="")
    device = models.CharField(_("device"), max_length=10, blank=True, default="")
    device_model = models.CharField(_("device model"), max_length=50, blank=True, default="")
    search_words = models.CharField(_("search words"), max_length=200, blank=True, default="")
    user_agent = models.CharField(_("user agent"), max_length=500, blank=True, default="")
    referrer = models.CharField(_("referrer"), max_length=1000, blank=True, default="")
    landing_page = models.CharField(_("landing page"), max_length=1000, blank=True, default="")
    extra = models.JSONField(_("extra"), default=dict, blank=True)
    visits = models.PositiveIntegerField(_("visits"), default=1)
    created_at = models.DateTimeField(_("first visit"), auto_now_add=True)
    updated_at = models.DateTimeField(_("last visit"), auto_now=True)
    last_message_at = models.DateTimeField(_("last message"), null=True, blank=True)

    # Set by chat.selectors' summaries: the newest message the visitor may see (no internal note).
    last_public_message_id: int = 0

    class Meta:
        verbose_name = _("visitor")
        verbose_name_plural = _("visitors")
        constraints = [models.UniqueConstraint(fields=["enterprise", "visitor_id"], name="uniq_visitor_public_id")]
        indexes = [models.Index(fields=["enterprise", "-last_message_at"], name="visitor_recent")]
        permissions = [("clear_visitor_history", _("Can clear a visitor's history"))]

    def __str__(self) -> str:
        return f"{self.name} ({self.visitor_id})"


class Conversation(models.Model):
    """One stretch of a visitor's chat, from its first message to its close; at most one not closed.

    `open_visitor` is the visitor while the conversation is waiting or open and NULL once closed: its
    unique index is what keeps a visitor to one live conversation, on every database and every process,
    and `Visitor.objects.select_related("open_conversation")` fetches it with the visitor in one query.
    """

    class Status(models.TextChoices):
        WAITING = "waiting", _("waiting")
        OPEN = "open", _("open")
        CLOSED = "closed", _("closed")

    class Channel(models.TextChoices):
        WEB = "web", _("web")
        WECHAT = "wechat", _("WeChat")

    class ClosedBy(models.TextChoices):
        AGENT = "agent", _("agent")
        VISITOR = "visitor", _("visitor")
        SYSTEM = "system", _("system (inactivity)")

    enterprise = models.ForeignKey(
        "enterprises.Enterprise", on_delete=models.CASCADE, related_name="+", verbose_name=_("enterprise")
    )
    visitor = models.ForeignKey(
        Visitor, on_delete=models.CASCADE, related_name="conversations", verbose_name=_("visitor")
    )
    open_visitor = models.OneToOneField(
        Visitor,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="open_conversation",
        editable=False,
        verbose_name=_("open visitor"),
    )
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices, default=Channel.WEB)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.WAITING)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="conversations",
        verbose_name=_("assignee"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    assigned_at = models.DateTimeField(_("assigned at"), null=True, blank=True)
    first_reply_at = models.DateTimeField(_("first agent reply"), null=True, blank=True)
    # Set when it opens, changes hands and closes; while it is live, its visitor's last_message_at is the
    # later truth (kept by every message): see last_activity().
    last_activity_at = models.DateTimeField(_("last activity"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    closed_by = models.CharField(_("closed by"), max_length=10, choices=ClosedBy.choices, blank=True, default="")
    closed_by_agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("closed by agent"),
    )
    # For the assignee only, from the colleague who transferred it; never sent to the visitor.
    transfer_note = models.CharField(_("transfer note"), max_length=500, blank=True, default="")

    class Meta:
        verbose_name = _("conversation")
        verbose_name_plural = _("conversations")
        indexes = [
            models.Index(fields=["enterprise", "status", "created_at"], name="conversation_queue"),
            models.Index(fields=["assignee", "status"], name="conversation_load"),
            models.Index(fields=["status", "last_activity_at"], name="conversation_idle"),
            models.Index(fields=["enterprise", "created_at"], name="conversation_opened"),  # statistics
        ]
        permissions = [
            ("take_conversation", _("Can take a waiting conversation")),
            ("transfer_conversation", _("Can transfer a conversation")),
            ("close_conversation", _("Can close and reopen a conversation")),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.status}"

    def last_activity(self) -> Any:
        """When something last happened in it: for a live one, its visitor's last message if later (and
        loaded with it: no query)."""
        last = self.last_activity_at
        if self.status != self.Status.CLOSED and Conversation.visitor.is_cached(self):  # type: ignore[attr-defined]
            seen = self.visitor.last_message_at
            if seen is not None and (last is None or seen > last):
                return seen
        return last


AUDIENCE_EVERYONE = "everyone"  # the visitor and the enterprise's agents
AUDIENCE_AGENTS = "agents"  # the enterprise's agents alone


def message_audience(sender: str) -> str:
    """Who may see a message sent by `sender`: an internal note is for the enterprise's agents alone. The one
    rule every path follows: the pushes of a new message (chat.services), the visitor's history and catch-up
    (MessageQuerySet.for_visitor), healing after a layer gap (chat.realtime.healing), channels forwarding."""
    return AUDIENCE_AGENTS if sender == Message.Sender.NOTE else AUDIENCE_EVERYONE


def visitor_may_see(sender: str) -> bool:
    return message_audience(sender) == AUDIENCE_EVERYONE


class MessageQuerySet(models.QuerySet["Message"]):
    def for_visitor(self) -> MessageQuerySet:
        """Only what the visitor may see (message_audience)."""
        return self.filter(sender__in=visitor_senders())


def visitor_senders() -> list[str]:
    return [sender for sender in Message.Sender.values if visitor_may_see(sender)]


class Message(models.Model):
    class Sender(models.TextChoices):
        VISITOR = "visitor", _("visitor")
        AGENT = "agent", _("agent")
        SYSTEM = "system", _("system")
        # An internal note an agent wrote in the thread: for the enterprise's agents only, never the visitor.
        NOTE = "note", _("internal note")

    class Kind(models.TextChoices):
        TEXT = "text", _("text")
        # A line of the conversation's timeline (assigned, transferred, closed): `content` is its code,
        # `meta` its details; clients word it in their own language.
        EVENT = "event", _("event")
        # An uploaded image or file (chat.uploads): `meta.attachment` describes it, `content` is the
        # original's markup for it (img[...] or attachment[{...}]) for clients that know only text.
        IMAGE = "image", _("image")
        FILE = "file", _("file")

    enterprise = models.ForeignKey(
        "enterprises.Enterprise", on_delete=models.CASCADE, related_name="+", verbose_name=_("enterprise")
    )
    visitor = models.ForeignKey(Visitor, on_delete=models.CASCADE, related_name="messages", verbose_name=_("visitor"))
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages", verbose_name=_("conversation")
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("agent"),
    )
    sender = models.CharField(_("sender"), max_length=10, choices=Sender.choices)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.TEXT)
    content = models.TextField(_("content"))
    meta = models.JSONField(_("details"), null=True, blank=True)
    # Chosen by the sending client; a resend with the same id is stored once.
    client_id = models.CharField(_("client id"), max_length=64)
    created_at = models.DateTimeField(_("sent at"), auto_now_add=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)

    objects = MessageQuerySet.as_manager()

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        constraints = [
            models.UniqueConstraint(fields=["visitor", "sender", "client_id"], name="uniq_message_client_id")
        ]
        indexes = [
            models.Index(fields=["visitor", "id"], name="message_visitor_id"),
            models.Index(fields=["enterprise", "id"], name="message_enterprise_id"),
            models.Index(fields=["conversation", "id"], name="message_conversation_id"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.sender}: {self.content[:40]}"


def _attachment_path(attachment: Attachment, filename: str) -> str:
    """Where storage keeps it: by enterprise and month, named by its key (never by the uploader's name)."""
    return f"uploads/{attachment.enterprise_id}/{timezone.now():%Y/%m}/{filename}"


class Attachment(models.Model):
    """An image or file uploaded into one visitor's thread (chat.uploads), sent as a message afterwards.

    Served at /media/<key>/... (chat.views.media): the key is its capability, 128 random bits.
    """

    class Kind(models.TextChoices):
        IMAGE = "image", _("image")
        FILE = "file", _("file")

    enterprise = models.ForeignKey(
        "enterprises.Enterprise", on_delete=models.CASCADE, related_name="+", verbose_name=_("enterprise")
    )
    visitor = models.ForeignKey(
        Visitor, on_delete=models.CASCADE, related_name="attachments", verbose_name=_("visitor")
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("agent"),
    )
    # Who uploaded it: "v" (the visitor) or "a<agent pk>"; with upload_id, what makes a retry idempotent.
    uploader = models.CharField(max_length=24, verbose_name=_("uploaded by"))
    upload_id = models.CharField(_("upload id"), max_length=64)
    key = models.CharField(max_length=32, unique=True, verbose_name=_("storage key"))
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=200)
    content_type = models.CharField(_("content type"), max_length=100)
    size = models.PositiveBigIntegerField(_("size"))
    file = models.FileField(_("file"), upload_to=_attachment_path, max_length=255)
    thumbnail = models.FileField(_("thumbnail"), upload_to=_attachment_path, max_length=255, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("width"))
    height = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("height"))
    created_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        constraints = [
            models.UniqueConstraint(fields=["visitor", "uploader", "upload_id"], name="uniq_attachment_upload_id")
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.name}"


class VisitorPage(models.Model):
    """A page of the operator's site the visitor opened while the widget ran (the page trail); the newest
    50 per visitor are kept (chat.pages)."""

    enterprise = models.ForeignKey(
        "enterprises.Enterprise", on_delete=models.CASCADE, related_name="+", verbose_name=_("enterprise")
    )
    visitor = models.ForeignKey(Visitor, on_delete=models.CASCADE, related_name="pages", verbose_name=_("visitor"))
    url = models.CharField(_("URL"), max_length=1000)
    title = models.CharField(_("title"), max_length=200, blank=True, default="")
    created_at = models.DateTimeField(_("opened at"), auto_now_add=True)

    class Meta:
        verbose_name = _("visited page")
        verbose_name_plural = _("visited pages")
        indexes = [models.Index(fields=["visitor", "-id"], name="visitorpage_visitor_recent")]

    def __str__(self) -> str:
        return self.url[:80]


class VisitorBlock(Block):
    """A visitor (by id) an enterprise refuses, until `expires_at` (None: for ever); one per visitor.

    Read with the visitor in the same query (`select_related("block")`) wherever a visitor arrives, so
    the check costs no query of its own; addresses are `enterprises.IPBlacklist`.
    """

    enterprise = models.ForeignKey(
        "enterprises.Enterprise", on_delete=models.CASCADE, related_name="+", verbose_name=_("enterprise")
    )
    visitor = models.OneToOneField(Visitor, on_delete=models.CASCADE, related_name="block", verbose_name=_("visitor"))

    class Meta:
        verbose_name = _("blocked visitor")
        verbose_name_plural = _("blocked visitors")
        indexes = [models.Index(fields=["enterprise", "-created_at"], name="visitorblock_recent")]
        permissions = [("block_visitors", _("Can block visitors and addresses"))]

    def __str__(self) -> str:
        return str(self.visitor_id)


class Tag(models.Model):
    """A label of the enterprise's agents for visitors (chat.workspace); its colour is one of COLOURS."""

    COLOURS = ("grey", "red", "orange", "yellow", "green", "teal", "blue", "purple", "pink")

    enterprise = models.ForeignKey(
        "enterprises.Enterprise", on_delete=models.CASCADE, related_name="+", verbose_name=_("enterprise")
    )
    name = models.CharField(_("name"), max_length=30)
    colour = models.CharField(_("colour"), max_length=10, default="blue")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        constraints = [models.UniqueConstraint(fields=["enterprise", "name"], name="uniq_tag_name")]

    def __str__(self) -> str:
        return self.name


class VisitorTag(models.Model):
    """A tag on a visitor; both of one enterprise."""

    enterprise = models.ForeignKey(
        "enterprises.Enterprise", on_delete=models.CASCADE, related_name="+", verbose_name=_("enterprise")
    )
    visitor = models.ForeignKey(
        Visitor, on_delete=models.CASCADE, related_name="visitor_tags", verbose_name=_("visitor")
    )
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="visitor_tags", verbose_name=_("tag"))
    created_at = models.DateTimeField(_("tagged at"), auto_now_add=True)

    class Meta:
        verbose_name = _("visitor tag")
        verbose_name_plural = _("visitor tags")
        constraints = [models.UniqueConstraint(fields=["visitor", "tag"], name="uniq_visitor_tag")]
        indexes = [models.Index(fields=["tag", "visitor"], name="visitortag_tag")]

    def __str__(self) -> str:
        return f"{self.visitor_id}:{self.tag_id}"
