"""Images and files sent in a chat (docs/protocol.md, "Attachments").

An upload is stored first (POST .../uploads, answered with its key), then sent as a message that names
it (`attachment`): the outbox resends the message, not the bytes. What an upload is comes from its content
(core.files: images re-encoded and thumbnailed, markup and programs refused); files are served only as a
download (chat.views.media). A retry with the same upload_id is stored once.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from core.errors import ChatError, not_found
from core.files import MB, clean_name, extension, file_inspect, image_inspect, sized, too_large
from core.ratelimit import rate_limit
from core.savepoints import nested_savepoint

from .models import Attachment, Message, Visitor

logger = logging.getLogger(__name__)

_UPLOAD_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def _clean_upload_id(upload_id: Any) -> str:
    if not isinstance(upload_id, str) or not _UPLOAD_ID.fullmatch(upload_id):
        raise ChatError("bad_upload_id", _("upload_id must be 1 to 64 letters, digits or . _ : -"))
    return upload_id


def upload_limits(enterprise: Any) -> dict[str, int]:
    """What the chat pages check before sending a file the server would refuse for its size."""
    return {"image_max_mb": enterprise.upload_image_max_mb, "file_max_mb": enterprise.upload_file_max_mb}


def attachment_payload(attachment: Attachment) -> dict[str, Any]:
    """What a client needs to show it; stored in its message's meta, so history needs no join."""
    base = f"{settings.MEDIA_URL}{attachment.key}"
    return {
        "key": attachment.key,
        "kind": attachment.kind,
        "name": attachment.name,
        "size": attachment.size,
        "content_type": attachment.content_type,
        "url": base,
        "thumb_url": f"{base}/thumb" if attachment.thumbnail else base,
        "width": attachment.width,
        "height": attachment.height,
    }


def attachment_markup(attachment: Attachment) -> str:
    """The original's text form, for clients that show only text: img[url] or attachment[{...}]."""
    url = f"{settings.MEDIA_URL}{attachment.key}"
    if attachment.kind == Attachment.Kind.IMAGE:
        return f"img[{url}]"
    ext = extension(attachment.name)
    details = {"name": attachment.name, "ext": f".{ext}" if ext else "", "size": attachment.size, "path": url}
    return f"attachment[{json.dumps(details, ensure_ascii=False)}]"


def upload_store(*, visitor: Visitor, agent: Any, upload_id: Any, upload: Any) -> tuple[Attachment, bool]:
    """Store an upload into `visitor`'s thread (by the visitor, or by `agent`, an agent of its enterprise
    the caller has checked); (attachment, created). A retry with the same upload_id answers the stored one."""
    upload_id = _clean_upload_id(upload_id)
    uploader = f"a{agent.pk}" if agent is not None else "v"
    existing = Attachment.objects.filter(visitor=visitor, uploader=uploader, upload_id=upload_id).first()
    if existing is not None:
        return existing, False
    size = sized(upload)
    enterprise = visitor.enterprise
    largest = max(enterprise.upload_image_max_mb, enterprise.upload_file_max_mb)
    if size > largest * MB:
        raise too_large(largest)
    if size == 0:
        raise ChatError("empty", _("The file is empty."))
    rate_limit(f"upload:{visitor.pk}:{uploader}", *settings.GOFLY["RATE_UPLOADS"])
    name = clean_name(getattr(upload, "name", ""))
    inspected = image_inspect(upload)
    if inspected is not None:
        if size > enterprise.upload_image_max_mb * MB:
            raise too_large(enterprise.upload_image_max_mb)
        stem = name.rpartition(".")[0] if extension(name) else name
        name = f"{stem or 'image'}.{inspected.ext}"
    else:
        if size > enterprise.upload_file_max_mb * MB:
            raise too_large(enterprise.upload_file_max_mb)
        inspected = file_inspect(upload, name)
    key = secrets.token_hex(16)
    attachment = Attachment(
        enterprise_id=visitor.enterprise_id,
        visitor=visitor,
        agent=agent,
        uploader=uploader,
        upload_id=upload_id,
        key=key,
        kind=inspected.kind,
        name=name,
        content_type=inspected.content_type,
        width=inspected.width,
        height=inspected.height,
    )
    stored: list[str] = []
    try:
        attachment.file.save(f"{key}.{inspected.ext}" if inspected.ext else key, inspected.body, save=False)
        stored.append(attachment.file.name)
        attachment.size = attachment.file.size
        if inspected.thumb is not None:
            attachment.thumbnail.save(f"{key}.thumb.webp", ContentFile(inspected.thumb), save=False)
            stored.append(attachment.thumbnail.name)
        with nested_savepoint():
            attachment.save(force_insert=True)
    except IntegrityError:
        _storage_delete(attachment, stored)
        # The same upload_id stored at the same moment (two tabs, or a retry racing its original).
        existing = Attachment.objects.filter(visitor=visitor, uploader=uploader, upload_id=upload_id).first()
        if existing is None:
            raise
        return existing, False
    except BaseException:
        _storage_delete(attachment, stored)
        raise
    return attachment, True


def _storage_delete(attachment: Attachment, names: Iterable[str]) -> None:
    storage = attachment.file.storage
    for name in names:
        try:
            storage.delete(name)
        except OSError:
            logger.warning("could not remove the unsaved upload %s", name)


def attachment_files_delete(sender: Any, instance: Attachment, **kwargs: Any) -> None:
    """post_delete of an Attachment (its visitor deleted, history cleared): its bytes go once the delete
    has committed, so a rolled-back delete keeps them."""
    names = [field.name for field in (instance.file, instance.thumbnail) if field]
    if names:
        transaction.on_commit(lambda: _storage_delete(instance, names))


def attachments_for_messages(keys: Iterable[str]) -> dict[str, Attachment]:
    """The attachments that messages of one batch name, in one query (chat.services.messages_create)."""
    wanted = {key for key in keys if isinstance(key, str) and 1 <= len(key) <= 32}
    if not wanted:
        return {}
    return {attachment.key: attachment for attachment in Attachment.objects.filter(key__in=wanted)}


def attachment_message_parts(
    attachment: Attachment | None, *, visitor: Visitor, sender: str
) -> tuple[str, str, dict[str, Any]]:
    """(kind, content, meta) of a message sending `attachment` into `visitor`'s thread. A visitor sends
    only what they uploaded; an agent what an agent of the enterprise uploaded into that thread; anything
    else is not found, whoever it belongs to."""
    if attachment is None or attachment.visitor_id != visitor.pk:
        raise not_found(_("Attachment"))
    if (sender == Message.Sender.VISITOR) != (attachment.uploader == "v"):
        raise not_found(_("Attachment"))
    kind = Message.Kind.IMAGE if attachment.kind == Attachment.Kind.IMAGE else Message.Kind.FILE
    return kind, attachment_markup(attachment), {"attachment": attachment_payload(attachment)}


def attachment_for_key(key: str) -> Attachment | None:
    if not isinstance(key, str) or not re.fullmatch(r"[0-9a-f]{32}", key):
        return None
    return Attachment.objects.filter(key=key).first()
