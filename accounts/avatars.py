"""Uploaded avatars of agents: checked and made square by core.files, stored in the default storage under
avatars/<enterprise id>/<random token>.webp and served by accounts.views.avatar_media at MEDIA_URL + that
name, to anyone (visitors see them beside the agent's messages)."""

from __future__ import annotations

import logging
import re
import secrets
from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils.translation import gettext as _

from core.errors import ChatError
from core.files import MB, Inspected, sized, square_image, too_large
from core.ratelimit import rate_limit

from .models import User

logger = logging.getLogger(__name__)

AVATAR_MAX_MB = 2
AVATAR_SIDE = 256
# A stored avatar's name: nothing else in the storage is ever served or removed as one.
_NAME = re.compile(r"avatars/(?P<enterprise_id>[0-9]{1,12})/(?P<token>[0-9a-f]{32})\.webp")
CONTENT_TYPE = "image/webp"


def avatar_image(upload: Any, *, uploader_id: int) -> Inspected:
    """An uploaded file as an avatar: at most AVATAR_MAX_MB, a PNG, JPEG, GIF or WebP by its content,
    re-encoded as a WebP square of at most AVATAR_SIDE pixels. ChatError (with a message for a form) for
    anything else. Decoding costs: `uploader_id`'s uploads count against the upload rate limit."""
    size = sized(upload)
    if size > AVATAR_MAX_MB * MB:
        raise too_large(AVATAR_MAX_MB)
    if size == 0:
        raise ChatError("empty", _("The file is empty."))
    rate_limit(f"avatar:{uploader_id}", *settings.GOFLY["RATE_UPLOADS"])
    return square_image(upload, side=AVATAR_SIDE)


def avatar_url(name: str) -> str:
    return f"{settings.MEDIA_URL}{name}"


def avatar_name(url: str) -> str | None:
    """The storage name of one of our uploaded avatars, from its URL; None for any other URL."""
    if not isinstance(url, str) or not url.startswith(settings.MEDIA_URL):
        return None
    name = url[len(settings.MEDIA_URL) :]
    return name if _NAME.fullmatch(name) else None


def avatar_path_name(enterprise_id: str, token: str) -> str | None:
    """The storage name a served URL's parts name, when they are an avatar's."""
    name = f"avatars/{enterprise_id}/{token}.webp"
    return name if _NAME.fullmatch(name) else None


def avatar_store(*, enterprise_id: int, image: Inspected) -> str:
    """Keep the image under a new random name of the enterprise's folder; its storage name."""
    wanted = f"avatars/{int(enterprise_id)}/{secrets.token_hex(16)}.webp"
    name = default_storage.save(wanted, image.body)
    if name != wanted:  # a storage that renamed it (it never exists already): serve it by the name we chose
        default_storage.delete(name)
        raise OSError(f"the storage stored {wanted} as {name}")
    return name


def avatar_read(name: str) -> bytes:
    """A stored avatar's bytes (a few kilobytes: read whole)."""
    with default_storage.open(name, "rb") as handle:
        return bytes(handle.read())


def avatar_discard(name: str) -> None:
    """Remove a stored avatar now (one whose change did not happen)."""
    try:
        default_storage.delete(name)
    except OSError:
        logger.warning("could not remove the unsaved avatar %s", name)


def avatar_release(old_url: str) -> None:
    """`old_url` is no longer the avatar of the user who had it: when it is an uploaded avatar that no
    user's avatar names any more (an agent may have typed a colleague's URL into the URL field), its file
    goes once the change has committed; a rolled-back change keeps it."""
    name = avatar_name(old_url)
    if name is None or User.objects.filter(avatar=old_url).exists():
        return
    transaction.on_commit(lambda: avatar_discard(name))
