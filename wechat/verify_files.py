"""The domain verification files at the site root (/MP_verify_<code>.txt): what WeChat's console fetches to
check that a domain is the account's, before it allows web authorisation or the JS-SDK on it."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.http.request import split_domain_port
from django.views.decorators.http import require_safe

from .selectors import verify_file_for_host

# The route: WeChat's names only, so that nothing else at the root is shadowed.
VERIFY_FILE_ROUTE = r"^(?P<name>MP_verify_[0-9A-Za-z]{1,32}\.txt)$"
VERIFY_FILE_URL_NAME = "wechat_verify_file"


@require_safe
def verify_file_serve(request: HttpRequest, name: str) -> HttpResponse:
    """The file's content as text/plain, for the host it was uploaded for (any host if none); else 404."""
    host, _port = split_domain_port(request.get_host())
    file = verify_file_for_host(name, host.lower().removesuffix(".")) if host else None
    if file is None:
        raise Http404(name)
    response = HttpResponse(file.content, content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    return response
