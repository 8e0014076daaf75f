"""The domain verification files page of the management area (/manage/wechat/verify-files/): upload the
MP_verify_*.txt file WeChat's console gives (for web authorisation and JS-SDK domains), see where each is
served, delete one. Only the admin's own enterprise's files are listed or deleted."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import User
from core.errors import ChatError
from enterprises.manage import manage_site

from . import services
from .selectors import verify_files_of


class VerifyFileForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("Verification file"),
        help_text=gettext_lazy(
            "The MP_verify_….txt file downloaded from WeChat's console (Settings › Official account settings › "
            "Function settings), unchanged."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".txt,text/plain"}),
    )
    domain = forms.CharField(
        label=gettext_lazy("Domain"),
        required=False,
        max_length=253,
        help_text=gettext_lazy(
            "The domain entered in WeChat's console, e.g. chat.example.com; empty: served on every domain of "
            "this server."
        ),
    )


def _upload(request: HttpRequest, actor: User, form: VerifyFileForm) -> bool:
    upload = form.cleaned_data["file"]
    if upload.size is None or upload.size > services.VERIFY_FILE_MAX_BYTES:
        form.add_error("file", _("A verification file is at most 1 KB."))
        return False
    try:
        file = services.wechat_verify_file_upload(
            actor=actor, name=upload.name or "", data=upload.read(), domain=form.cleaned_data["domain"]
        )
    except ChatError as refusal:
        form.add_error(None, refusal.message)
        return False
    messages.success(request, _("%(name)s is uploaded.") % {"name": file.name})
    return True


def wechat_verify_files_page(request: HttpRequest) -> HttpResponse:
    """GET: the list and the upload form. POST `action`: "upload" (the form), "delete" (`id`)."""
    actor = cast(User, request.user)
    enterprise_id = actor.enterprise_id or 0  # the site let only an enterprise's admins in
    form = VerifyFileForm()
    action = request.POST.get("action") if request.method == "POST" else None
    if action == "upload":
        form = VerifyFileForm(request.POST, request.FILES)
        if form.is_valid() and _upload(request, actor, form):
            return HttpResponseRedirect(request.get_full_path())
    elif action == "delete":
        try:
            services.wechat_verify_file_delete(actor=actor, file_id=request.POST.get("id"))
        except ChatError as refusal:
            messages.error(request, refusal.message)
        else:
            messages.success(request, _("The verification file is deleted."))
        return HttpResponseRedirect(request.get_full_path())
    files = list(verify_files_of(enterprise_id))
    context: dict[str, Any] = {
        **manage_site.each_context(request),
        "title": _("WeChat domain verification files"),
        "form": form,
        "files": [(file, request.build_absolute_uri(f"/{file.name}")) for file in files],
        "host": request.get_host(),
        "page_url": reverse("manage:wechat_verify_files"),
    }
    request.current_app = manage_site.name
    return TemplateResponse(request, "wechat/manage/verify_files.html", context, status=400 if form.errors else 200)
