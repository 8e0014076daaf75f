"""Images and files sent in a chat (docs/protocol.md, "Attachments").

An upload is stored first (POST .../uploads, answered with its key), then sent as a message that names
it (`attachment`): the outbox resends the message, not the bytes. The type comes from the content, never
from the name or the browser's word: whatever Pillow decodes as a JPEG, PNG, GIF, WebP or BMP is an image,
re-encoded from its pixels alone (no metadata, no trailing bytes: a polyglot loses its second life) and
thumbnailed; anything else is a file, refused when it is markup (HTML, SVG, XML) or a program, and served
only as a download (chat.views.media). A retry with the same upload_id is stored once.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import io
import json
import logging
import math
import re
import secrets
import struct
import threading
import unicodedata
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import IO, Any

import filetype
from django.conf import settings
from django.core.files.base import ContentFile, File
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from core.errors import ChatError, not_found
from core.ratelimit import rate_limit
from core.savepoints import nested_savepoint

from .models import Attachment, Message, Visitor

logger = logging.getLogger(__name__)

MB = 1024 * 1024
# Pixels of a thumbnail's longer side: twice what the chat shows, for sharp screens.
THUMB_SIZE = 480
# Formats we show as images, and the format each is stored in (BMP is big and pointless: PNG).
_IMAGE_FORMATS = {"JPEG": "JPEG", "PNG": "PNG", "GIF": "GIF", "WEBP": "WEBP", "BMP": "PNG"}
_FORMAT_TYPES = {
    "JPEG": ("jpg", "image/jpeg"),
    "PNG": ("png", "image/png"),
    "GIF": ("gif", "image/gif"),
    "WEBP": ("webp", "image/webp"),
}
_ANIMATED_FRAMES_MAX = 300
# Modes Image.reduce() shrinks without a full-size copy (it premultiplies LA and RGBA into one first);
# the others are sampled down instead.
_REDUCIBLE = {"L", "RGB", "I", "F", "CMYK", "YCbCr"}
# Seconds an upload waits for a decoding slot before it is answered 503 "busy" (the client retries).
_BUSY_RETRY_AFTER = 5
# What of an image's info survives re-encoding: how it animates and which colour is transparent.
_KEPT_INFO = ("duration", "loop", "transparency", "background", "disposal", "blend")
# Programs by content: what filetype knows, plus Mach-O and Java classes (0xCAFEBABE, also fat Mach-O).
_PROGRAM_TYPES = {"exe", "elf", "swf", "crx", "wasm", "dex", "cab", "rpm", "deb"}
_PROGRAM_MAGIC = (
    b"\xfe\xed\xfa\xce",
    b"\xfe\xed\xfa\xcf",
    b"\xce\xfa\xed\xfe",
    b"\xcf\xfa\xed\xfe",
    b"\xca\xfe\xba\xbe",
    b"#!",
)
# Names a browser, a desktop or a mail client would run or render, whatever the content.
_REFUSED_EXTENSIONS = {
    "htm", "html", "xhtml", "shtml", "mht", "mhtml", "svg", "svgz", "xml", "xsl", "xslt", "hta", "js", "mjs",
    "jse", "vbs", "vbe", "wsf", "wsh", "ps1", "psm1", "bat", "cmd", "com", "exe", "dll", "scr", "msi", "msp",
    "pif", "cpl", "jar", "lnk", "reg", "sh", "app", "apk", "appx", "dmg", "pkg", "php", "phtml", "asp", "aspx", "jsp",
}  # fmt: skip
# Markup in a file filetype does not recognise (text): refused, so it can never be rendered as a page.
_MARKUP = re.compile(
    rb"<\s*(?:!doctype\s+html|html|head|body|script|svg|iframe|object|embed|meta|link|style|\?xml|xsl:|!entity|x:xmpmeta)",
    re.IGNORECASE,
)
_MARKUP_SCAN = 64 * 1024
_TEXT_EXTENSIONS = {"txt", "csv", "log", "md", "json", "tsv"}
_UPLOAD_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


@dataclass
class _Inspected:
    kind: str
    content_type: str
    ext: str
    body: File[Any] | ContentFile
    thumb: bytes | None = None
    width: int | None = None
    height: int | None = None


def _refused(message: str) -> ChatError:
    return ChatError("bad_type", message, 415)


def _too_large(limit_mb: int) -> ChatError:
    return ChatError("too_large", _("The file is larger than %(limit)d MB.") % {"limit": limit_mb}, 413)


def _clean_name(name: Any) -> str:
    """The uploader's file name as shown and offered for download: no path, no control or format
    characters, at most 120 characters (keeping the extension)."""
    name = str(name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] not in "CZ" or ch == " ")
    name = re.sub(r"\s+", " ", name).strip(" .")
    if len(name) > 120:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 119 - len(ext)] + dot + ext) if dot and len(ext) <= 10 else name[:120]
    return name or "file"


def _extension(name: str) -> str:
    stem, dot, ext = name.rpartition(".")
    return ext.lower() if dot and stem else ""


def _clean_upload_id(upload_id: Any) -> str:
    if not isinstance(upload_id, str) or not _UPLOAD_ID.fullmatch(upload_id):
        raise ChatError("bad_upload_id", _("upload_id must be 1 to 64 letters, digits or . _ : -"))
    return upload_id


class _DecodeSlots:
    """At most IMAGE_DECODES images are decoded at once in this process. A decoded image holds its pixels
    (up to 4 bytes each) while it is re-encoded, so the memory uploads take is bounded by
    IMAGE_DECODES x UPLOAD_MAX_PIXELS x 4 bytes (and what the encoders add), however many arrive together:
    the others wait IMAGE_DECODE_WAIT seconds for a slot, then are answered 503 `busy` with Retry-After."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._size = 0
        self._slots = threading.BoundedSemaphore(1)

    def _current(self) -> threading.BoundedSemaphore:
        size = max(1, int(settings.GOFLY["IMAGE_DECODES"]))
        with self._lock:
            if size != self._size:  # configured anew (tests): a fresh semaphore of that size
                self._size, self._slots = size, threading.BoundedSemaphore(size)
            return self._slots

    @contextmanager
    def held(self) -> Iterator[None]:
        slots = self._current()
        if not slots.acquire(timeout=float(settings.GOFLY["IMAGE_DECODE_WAIT"])):
            raise ChatError(
                "busy",
                _("The server is busy with other images; retry in a moment."),
                503,
                retry_after=_BUSY_RETRY_AFTER,
            )
        try:
            yield
        finally:
            # Given back before the next decode starts, or two images' worth would be held for a moment.
            _memory_release()
            slots.release()


_decode_slots = _DecodeSlots()


@lru_cache(maxsize=1)
def _malloc_trim() -> Any:
    path = ctypes.util.find_library("c")
    try:
        return getattr(ctypes.CDLL(path), "malloc_trim", None) if path else None
    except OSError:  # pragma: no cover - no C library to load
        return None


def _memory_release() -> None:
    """Hand the freed pixels back to the system. glibc keeps large freed blocks in the arena of the thread
    that decoded them (each request has its own thread), so without this a burst of big images stayed
    held by the process long after it ended (637 MB after eight 40 Mpx PNGs)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def _jpeg_scale(width: int, height: int, limit: int) -> int:
    """The JPEG decoder's own downscale (1, 2, 4 or 8) that brings an image within `limit` pixels, or 0
    when even 1/8 does not: a big photo is decoded small instead of whole, and stored at that size."""
    for scale in (1, 2, 4, 8):
        if math.ceil(width / scale) * math.ceil(height / scale) <= limit:
            return scale
    return 0


def _image(stream: IO[bytes]) -> _Inspected | None:
    """The upload re-encoded from its pixels when Pillow reads it as an image we show; None when it is
    no image at all; ChatError when it claims to be one and is broken, or is too big to decode."""
    limit = settings.GOFLY["UPLOAD_MAX_PIXELS"]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            stream.seek(0)
            scale = 1
            with Image.open(stream) as probe:
                source_format = probe.format or ""
                if source_format not in _IMAGE_FORMATS:
                    return None
                frames = getattr(probe, "n_frames", 1)
                width, height = probe.size
                if source_format == "JPEG":
                    scale = _jpeg_scale(width, height, limit)
                    if not scale:
                        raise Image.DecompressionBombError("too many pixels")
                elif width * height * min(frames, _ANIMATED_FRAMES_MAX + 1) > limit:
                    raise Image.DecompressionBombError("too many pixels")
                if frames > _ANIMATED_FRAMES_MAX:
                    raise ChatError("bad_image", _("The animation has too many frames."), 400)
                probe.verify()
            with _decode_slots.held():
                return _image_decoded(stream, source_format, frames > 1, scale)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ChatError(
            "too_large", _("The image has more than %(limit)d megapixels.") % {"limit": limit // 1_000_000}, 413
        ) from None
    except UnidentifiedImageError:
        return None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error):
        raise ChatError("bad_image", _("The image is damaged and cannot be shown."), 400) from None


def _image_decoded(stream: IO[bytes], source_format: str, animated: bool, scale: int) -> _Inspected:
    """Decode and re-encode; its pixels are freed when it returns (the caller then hands them back)."""
    stream.seek(0)
    with Image.open(stream) as image:
        if scale > 1:
            width, height = image.size
            image.draft(image.mode, (math.ceil(width / scale), math.ceil(height / scale)))
        return _image_reencoded(image, source_format, animated)


def _pixels_only(image: Image.Image) -> Image.Image:
    """Pixels and timing only: comments, text chunks, EXIF, XMP and colour profiles stay behind."""
    kept = {k: image.info[k] for k in _KEPT_INFO if k in image.info}
    image.info.clear()
    image.info.update(kept)
    return image


def _image_reencoded(image: Image.Image, source_format: str, animated: bool) -> _Inspected:
    target = _IMAGE_FORMATS[source_format]
    ext, content_type = _FORMAT_TYPES[target]
    out = io.BytesIO()
    thumb: bytes | None = None
    if animated and target in ("GIF", "WEBP"):
        # Every frame, with its timing; the first frame stands for it while it is small enough to show whole.
        options: dict[str, Any] = {"save_all": True, "loop": image.info.get("loop", 0)}
        if "duration" in image.info:
            options["duration"] = image.info["duration"]
        _pixels_only(image).save(out, format=target, **options)
        image.seek(0)
        width, height = image.size
        if max(width, height) > THUMB_SIZE:
            thumb = _thumbnail(image)
    else:
        image.load()
        # Turned as the camera was held, in place: a second full-size copy would double the memory.
        upright = _pixels_only(ImageOps.exif_transpose(image, in_place=True) or image)
        if target == "JPEG" and upright.mode not in ("RGB", "L"):
            upright = upright.convert("RGB")
        elif target in ("PNG", "WEBP") and upright.mode not in ("RGB", "RGBA", "L", "LA", "P", "1"):
            upright = upright.convert("RGBA")
        if target == "JPEG":
            upright.save(out, format="JPEG", quality=88)
        elif target == "WEBP":
            upright.save(out, format="WEBP", quality=88)
        else:
            upright.save(out, format=target)
        width, height = upright.size
        if max(width, height) > THUMB_SIZE:
            thumb = _thumbnail(upright)
    return _Inspected(
        kind=Attachment.Kind.IMAGE,
        content_type=content_type,
        ext=ext,
        body=ContentFile(out.getvalue()),
        thumb=thumb,
        width=width,
        height=height,
    )


def _thumbnail(image: Image.Image) -> bytes:
    """A WebP at most THUMB_SIZE pixels a side, made from a copy reduced first, so that no second
    full-size copy of the pixels (a mode conversion, a resize's premultiplied alpha) is ever made."""
    factor = max(image.size) // THUMB_SIZE
    if factor >= 2 and image.mode in _REDUCIBLE:
        small = image.reduce(factor)
    elif factor >= 2:  # alpha, palette, bilevel, 16-bit: sampled down to 4x the thumbnail, then filtered
        ratio = 4 * THUMB_SIZE / max(image.size)
        size = (max(1, round(image.width * ratio)), max(1, round(image.height * ratio)))
        small = image.resize(size, Image.Resampling.NEAREST)
    else:
        small = image.copy()
    if small.mode not in ("RGB", "RGBA"):
        small = small.convert("RGBA" if "A" in small.mode or small.mode == "P" else "RGB")
    small.thumbnail((THUMB_SIZE, THUMB_SIZE))
    out = io.BytesIO()
    small.save(out, format="WEBP", quality=80)
    return out.getvalue()


def _file(stream: IO[bytes], name: str) -> _Inspected:
    """A file that is no image: its type by content, refused when it is markup or a program."""
    stream.seek(0)
    head = stream.read(_MARKUP_SCAN)
    stream.seek(0)
    ext = _extension(name)
    if ext in _REFUSED_EXTENSIONS:
        raise _refused(_("Files of type .%(ext)s are not accepted.") % {"ext": ext})
    guess = filetype.guess(head[:8192]) if head else None
    if (guess is not None and guess.extension in _PROGRAM_TYPES) or head.startswith(_PROGRAM_MAGIC):
        raise _refused(_("Programs are not accepted."))
    if guess is None and _MARKUP.search(head.lstrip(b"\xef\xbb\xbf\xff\xfe\x00 \t\r\n")):
        raise _refused(_("HTML, SVG and XML files are not accepted."))
    if guess is not None and not guess.mime.startswith("image/"):
        content_type = guess.mime
    elif guess is None and ext in _TEXT_EXTENSIONS and _is_utf8(head):
        content_type = "text/plain; charset=utf-8"
    else:
        content_type = "application/octet-stream"
    return _Inspected(kind=Attachment.Kind.FILE, content_type=content_type, ext=ext, body=File(stream))


def _is_utf8(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start >= len(head) - 3  # cut in the middle of a character at the end of the head
    return True


def _sized(upload: Any) -> int:
    size = getattr(upload, "size", None)
    if not isinstance(size, int):
        raise ChatError("no_file", _("Send the file as multipart form data in the field `file`."))
    return size


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
    ext = _extension(attachment.name)
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
    size = _sized(upload)
    enterprise = visitor.enterprise
    largest = max(enterprise.upload_image_max_mb, enterprise.upload_file_max_mb)
    if size > largest * MB:
        raise _too_large(largest)
    if size == 0:
        raise ChatError("empty", _("The file is empty."))
    rate_limit(f"upload:{visitor.pk}:{uploader}", *settings.GOFLY["RATE_UPLOADS"])
    name = _clean_name(getattr(upload, "name", ""))
    inspected = _image(upload)
    if inspected is not None:
        if size > enterprise.upload_image_max_mb * MB:
            raise _too_large(enterprise.upload_image_max_mb)
        stem = name.rpartition(".")[0] if _extension(name) else name
        name = f"{stem or 'image'}.{inspected.ext}"
    else:
        if size > enterprise.upload_file_max_mb * MB:
            raise _too_large(enterprise.upload_file_max_mb)
        inspected = _file(upload, name)
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
