"""The public home page at / (the original's "about"): the system configuration's text in the reader's
language, sanitised; without one, / leads to the console as before."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.safestring import mark_safe
from django.utils.translation import get_language

from enterprises.selectors import system_config
from replies.sanitise import sanitise


def home(request: HttpRequest) -> HttpResponse:
    config = system_config()
    chinese = (get_language() or "").startswith("zh")
    text = (config.home_zh or config.home_en) if chinese else (config.home_en or config.home_zh)
    if not text.strip():
        return HttpResponseRedirect("/console")
    # nh3's allow-list (replies.sanitise): what is left is markup we allow, so it may be shown as such.
    content = mark_safe(sanitise(text))  # noqa: S308
    return render(request, "gofly_site/home.html", {"content": content})
