"""HTML pages of the chat: the visitor's chatIndex page and the agent console."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import IO

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.shortcuts import render
from django.utils import translation
from django.utils.http import content_disposition_header, url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_exempt

from accounts.selectors import agent_payload
from chat import hooks
from chat.access import agent_by_kefu_id
from chat.models import Attachment
from chat.uploads import attachment_for_key, upload_limits
from enterprises.models import Enterprise
from enterprises.origins import frame_ancestors, landing_redirect
from enterprises.selectors import enterprise_get_active


# The widget shows this page in an iframe on the operator's site: who may frame it is the enterprise's
# frame-ancestors below, which X-Frame-Options (one site or none) cannot say.
@xframe_options_exempt
def chat_index(request: HttpRequest) -> HttpResponse:
    """`/chatIndex?kefu_id=&ent_id=` (and `/livechat?user_id=`): the visitor chat page."""
    params = request.GET
    kefu_id = params.get("kefu_id") or params.get("user_id") or ""
    ent_id = params.get("ent_id", "")
    if not ent_id and kefu_id:
        # Agent usernames are unique, so a link naming only the agent still finds its enterprise.
        agent = agent_by_kefu_id(kefu_id)
        ent_id = str(agent.enterprise_id) if agent else ""
    raw_lang = (params.get("lang") or "").replace("_", "-").lower()
    raw_lang = _LANG_ALIASES.get(raw_lang, raw_lang)
    lang = translation.get_supported_language_variant(raw_lang) if _known_language(raw_lang) else None
    if lang:
        translation.activate(lang)  # the link's `lang` wins over the browser's Accept-Language
    enterprise = enterprise_get_active(ent_id)
    if enterprise is None:
        return render(request, "chat/unavailable.html", {"message": _("This chat link is not valid.")}, status=404)
    landing = landing_redirect(request, enterprise)
    if landing:
        return HttpResponseRedirect(landing)  # 302: the operator may move it again
    if _WECHAT_BROWSER in request.META.get("HTTP_USER_AGENT", "") and not params.get("ticket"):
        first = _channel_redirect(request, enterprise)
        if first:
            return HttpResponseRedirect(first)
    config = {
        "ent_id": enterprise.pk,
        "kefu_id": kefu_id,
        "enterprise_name": enterprise.name,
        "refer": params.get("refer") or request.META.get("HTTP_REFERER", ""),
        "landing_page": params.get("landing_page", ""),
        "extra": params.get("extra", ""),
        "visitor_id": params.get("visitor_id", ""),
        "visitor_name": params.get("visitor_name", ""),
        "avatar": params.get("avatar", ""),
        "timestamp": params.get("timestamp", ""),
        "signature": params.get("signature", ""),
        "ticket": params.get("ticket", ""),
        "lang": translation.get_language(),
        "max_length": settings.GOFLY["MESSAGE_MAX_LENGTH"],
    }
    response = render(request, "chat/visitor.html", {"config": config, "enterprise": enterprise})
    response.headers.setdefault("Content-Language", translation.get_language())
    # The site's policy (settings.CONTENT_SECURITY_POLICY) with this enterprise's frame-ancestors in place of
    # any it names: django-csp's middleware reads this attribute and writes one header from both.
    directive, *sources = frame_ancestors(enterprise).split()
    setattr(response, "_csp_replace", {directive: sources})  # noqa: B010
    return response


_WECHAT_BROWSER = "MicroMessenger"


def _channel_redirect(request: HttpRequest, enterprise: Enterprise) -> str | None:
    """Where a channel app (wechat's web authorisation) sends the page first: a path of this site, or None."""
    if not hooks.visitor_page_opened:
        return None
    for answer in hooks.visitor_page_opened.send(hooks.VisitorPageOpened(request, enterprise)):
        if answer and answer.startswith("/") and url_has_allowed_host_and_scheme(answer, allowed_hosts=None):
            return answer
    return None


# What the original's links and widget say (GOFLY_LANG "cn"), besides what Django knows (zh-cn, zh-hans, en...).
_LANG_ALIASES = {"cn": "zh-hans"}


def _known_language(code: str | None) -> bool:
    if not code or len(code) > 15:
        return False
    try:
        translation.get_supported_language_variant(code.replace("_", "-").lower())
    except LookupError:
        return False
    return True


@login_required
def console(request: HttpRequest) -> HttpResponse:
    """The agent's chat workspace."""
    user = request.user
    if not getattr(user, "is_agent", False):
        return render(
            request,
            "chat/unavailable.html",
            {"message": _("This account is not an agent of any enterprise. Superadmins work in /admin.")},
            status=403,
        )
    config = {
        "agent": agent_payload(user),  # type: ignore[arg-type]
        "max_length": settings.GOFLY["MESSAGE_MAX_LENGTH"],
        "uploads": upload_limits(user.enterprise),  # type: ignore[union-attr]
        "enterprise_name": user.enterprise.name,  # type: ignore[union-attr]  # canned replies' {enterprise_name}
    }
    return render(request, "chat/console.html", {"config": config})


# What an upload is allowed to be when a browser opens it: nothing that runs (no script, no plugin, no
# form, a unique origin), even if it were markup the checks missed.
_MEDIA_POLICY = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"
_MEDIA_CHUNK = 64 * 1024


async def _read_chunks(handle: IO[bytes]) -> AsyncIterator[bytes]:
    read = sync_to_async(handle.read, thread_sensitive=False)
    try:
        while chunk := await read(_MEDIA_CHUNK):
            yield chunk
    finally:
        await sync_to_async(handle.close, thread_sensitive=False)()


async def media(request: HttpRequest, key: str, thumb: bool = False) -> HttpResponse | StreamingHttpResponse:
    """`/media/<key>` and `/media/<key>/thumb`: an upload (chat.uploads), by its key alone, as anyone who
    saw its message may. Images (re-encoded by us) are shown inline; every other file is a download, and
    nothing is ever sniffed, rendered as a page or allowed to run."""
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    attachment = await sync_to_async(attachment_for_key, thread_sensitive=False)(key)
    if attachment is None or (thumb and not attachment.thumbnail):
        raise Http404("no such upload")
    field = attachment.thumbnail if thumb else attachment.file
    try:
        handle = await sync_to_async(field.storage.open, thread_sensitive=False)(field.name, "rb")
        size = (
            attachment.size
            if not thumb
            else await sync_to_async(field.storage.size, thread_sensitive=False)(field.name)
        )
    except OSError:
        raise Http404("upload missing from storage") from None
    image = attachment.kind == Attachment.Kind.IMAGE
    if request.method == "HEAD":
        await sync_to_async(handle.close, thread_sensitive=False)()
        response: HttpResponse | StreamingHttpResponse = HttpResponse()
    else:
        response = StreamingHttpResponse(_read_chunks(handle))
    response["Content-Type"] = "image/webp" if thumb else attachment.content_type
    response["Content-Length"] = str(size)
    response["Content-Disposition"] = content_disposition_header(not image, attachment.name) or "attachment"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = _MEDIA_POLICY
    # Exactly this policy: django-csp's middleware neither adds the site's to it nor replaces it.
    setattr(response, "_csp_exempt", True)  # noqa: B010
    # A key's bytes never change: cache them for good, in the browser only.
    response["Cache-Control"] = "private, max-age=31536000, immutable"
    return response
