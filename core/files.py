"""Uploaded files checked before anything keeps them: the type from the content, never from the name or
the sender's word. Whatever Pillow decodes as a JPEG, PNG, GIF, WebP or BMP is an image, re-encoded from its
pixels alone (no metadata, no trailing bytes: a polyglot loses its second life) and thumbnailed, with the
decoding memory bounded per process; anything else is a file, refused when it is markup (HTML, SVG, XML)
or a program. Chat attachments use it (chat.uploads), and so will agents' avatars and WeChat media.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import io
import logging
import math
import re
import struct
import threading
import unicodedata
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import IO, Any

import filetype
from django.conf import settings
from django.core.files.base import ContentFile, File
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from core.errors import ChatError

logger = logging.getLogger(__name__)

# What an inspected upload is: shown as an image, or offered as a download.
IMAGE = "image"
FILE = "file"

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


@dataclass
class Inspected:
    """An upload as it may be kept: `body` is the re-encoded image or the file as sent."""

    kind: str
    content_type: str
    ext: str
    body: File[Any] | ContentFile
    thumb: bytes | None = None
    width: int | None = None
    height: int | None = None


def _refused(message: str) -> ChatError:
    return ChatError("bad_type", message, 415)


def too_large(limit_mb: int) -> ChatError:
    return ChatError("too_large", _("The file is larger than %(limit)d MB.") % {"limit": limit_mb}, 413)


def clean_name(name: Any) -> str:
    """The uploader's file name as shown and offered for download: no path, no control or format
    characters, at most 120 characters (keeping the extension)."""
    name = str(name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] not in "CZ" or ch == " ")
    name = re.sub(r"\s+", " ", name).strip(" .")
    if len(name) > 120:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 119 - len(ext)] + dot + ext) if dot and len(ext) <= 10 else name[:120]
    return name or "file"


def extension(name: str) -> str:
    stem, dot, ext = name.rpartition(".")
    return ext.lower() if dot and stem else ""


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


decode_slots = _DecodeSlots()


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


def image_inspect(stream: IO[bytes]) -> Inspected | None:
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
            with decode_slots.held():
                return _image_decoded(stream, source_format, frames > 1, scale)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ChatError(
            "too_large", _("The image has more than %(limit)d megapixels.") % {"limit": limit // 1_000_000}, 413
        ) from None
    except UnidentifiedImageError:
        return None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error):
        raise ChatError("bad_image", _("The image is damaged and cannot be shown."), 400) from None


def _image_decoded(stream: IO[bytes], source_format: str, animated: bool, scale: int) -> Inspected:
    """Decode and re-encode; its pixels are freed when it returns (the caller then hands them back)."""
    stream.seek(0)
    with Image.open(stream) as image:
        if scale > 1:
            # Floor, not ceiling: the decoder picks the largest scale the asked size allows, and a size
            # rounded up (2001 / 2 -> 1001) would make it decode the whole image instead.
            image.draft(image.mode, (max(1, image.width // scale), max(1, image.height // scale)))
            if image.width * image.height > settings.GOFLY["UPLOAD_MAX_PIXELS"]:
                raise Image.DecompressionBombError("too many pixels")
        return _image_reencoded(image, source_format, animated)


def _pixels_only(image: Image.Image) -> Image.Image:
    """Pixels and timing only: comments, text chunks, EXIF, XMP and colour profiles stay behind."""
    kept = {k: image.info[k] for k in _KEPT_INFO if k in image.info}
    image.info.clear()
    image.info.update(kept)
    return image


def _image_reencoded(image: Image.Image, source_format: str, animated: bool) -> Inspected:
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
    return Inspected(
        kind=IMAGE,
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


def file_inspect(stream: IO[bytes], name: str) -> Inspected:
    """A file that is no image: its type by content, refused when it is markup or a program."""
    stream.seek(0)
    head = stream.read(_MARKUP_SCAN)
    stream.seek(0)
    ext = extension(name)
    if ext in _REFUSED_EXTENSIONS:
        raise _refused(_("Files of type .%(ext)s are not accepted.") % {"ext": ext})
    guess = filetype.guess(head[:8192]) if head else None
    # A script's "#!" only when the content is no known format: an AMR voice starts "#!AMR" too.
    if (guess is not None and guess.extension in _PROGRAM_TYPES) or (guess is None and head.startswith(_PROGRAM_MAGIC)):
        raise _refused(_("Programs are not accepted."))
    if guess is None and _MARKUP.search(head.lstrip(b"\xef\xbb\xbf\xff\xfe\x00 \t\r\n")):
        raise _refused(_("HTML, SVG and XML files are not accepted."))
    if guess is not None and not guess.mime.startswith("image/"):
        content_type = guess.mime
    elif guess is None and ext in _TEXT_EXTENSIONS and _is_utf8(head):
        content_type = "text/plain; charset=utf-8"
    else:
        content_type = "application/octet-stream"
    return Inspected(kind=FILE, content_type=content_type, ext=ext, body=File(stream))


def _is_utf8(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start >= len(head) - 3  # cut in the middle of a character at the end of the head
    return True


def sized(upload: Any) -> int:
    size = getattr(upload, "size", None)
    if not isinstance(size, int):
        raise ChatError("no_file", _("Send the file as multipart form data in the field `file`."))
    return size


# --- square pictures (agents' avatars) ------------------------------------------------------------------

# What a square picture may be sent as; anything else (SVG, BMP, TIFF, HTML, ...) is refused unopened.
SQUARE_FORMATS = ("JPEG", "PNG", "GIF", "WEBP")


def _square_jpeg_scale(width: int, height: int, side: int, limit: int) -> int:
    """The JPEG decoder's downscale for a square of `side`: at least what keeps the pixels within `limit`
    (0: none does), and more while the shorter side still covers the square."""
    least = _jpeg_scale(width, height, limit)
    if not least:
        return 0
    return max([least, *(scale for scale in (2, 4, 8) if min(width, height) // scale >= side)])


def square_image(stream: IO[bytes], *, side: int) -> Inspected:
    """The upload's first frame, turned upright, cropped to its centre square and scaled to at most `side`
    pixels a side, re-encoded as a WebP from its pixels alone (no EXIF, comments, profiles or trailing
    bytes). Its type comes from the content: only SQUARE_FORMATS are opened at all. ChatError `bad_type`
    when it is none of them, `too_large` past UPLOAD_MAX_PIXELS (checked from the header, before decoding),
    `bad_image` when it is damaged or cut short."""
    limit = settings.GOFLY["UPLOAD_MAX_PIXELS"]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            stream.seek(0)
            with Image.open(stream, formats=SQUARE_FORMATS) as probe:
                width, height = probe.size
                if probe.format == "JPEG":  # decoded smaller by the decoder itself: its pixels then count
                    scale = _square_jpeg_scale(width, height, side, limit)
                else:
                    scale = 1 if width * height <= limit else 0
                if not scale:
                    raise Image.DecompressionBombError("too many pixels")
                probe.verify()
            with decode_slots.held():
                return _square_decoded(stream, side, scale, limit)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ChatError(
            "too_large", _("The image has more than %(limit)d megapixels.") % {"limit": limit // 1_000_000}, 413
        ) from None
    except UnidentifiedImageError:
        raise _refused(_("Upload a PNG, JPEG, GIF or WebP image.")) from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error):
        raise ChatError("bad_image", _("The image is damaged and cannot be shown."), 400) from None


def _square_decoded(stream: IO[bytes], side: int, scale: int, limit: int) -> Inspected:
    stream.seek(0)
    with Image.open(stream, formats=SQUARE_FORMATS) as image:
        if scale > 1:
            # Floor, not ceiling: the decoder picks the largest scale the asked size allows, and a size
            # rounded up (6001 / 2 -> 3001) would make it decode the whole image instead.
            image.draft(image.mode, (max(1, image.width // scale), max(1, image.height // scale)))
        if image.width * image.height > limit:
            raise Image.DecompressionBombError("too many pixels")
        image.load()  # the first frame: an animation's others are never decoded
        upright = _pixels_only(ImageOps.exif_transpose(image, in_place=True) or image)
        if upright.mode not in ("RGB", "RGBA"):
            transparent = "A" in upright.mode or "transparency" in upright.info or upright.mode == "P"
            upright = upright.convert("RGBA" if transparent else "RGB")
        edge = min(side, upright.width, upright.height)
        square = ImageOps.fit(upright, (edge, edge), Image.Resampling.LANCZOS)
        square.info.clear()  # resize copies the source's info: nothing of it is written
        out = io.BytesIO()
        square.save(out, format="WEBP", quality=85)
    return Inspected(
        kind=IMAGE,
        content_type="image/webp",
        ext="webp",
        body=ContentFile(out.getvalue()),
        width=edge,
        height=edge,
    )
