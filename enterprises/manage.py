"""The enterprise admins' management area at /manage/: Django's admin, every page scoped to the user's enterprise.

Each app registers what its enterprise admins manage on `manage_site` (in its admin.py) with a
`TenantModelAdmin`, naming the permission (accounts/permissions.py) that opens it. Rows of other
enterprises are not in any queryset, so a foreign id in a URL answers exactly like a missing one, and
foreign keys offer the enterprise's own rows only. Superadmins keep the platform's /admin.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import update_wrapper
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.views import redirect_to_login
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.errors import ChatError

from .audit import audit_record
from .models import AuditAction


def tenant_of(request: HttpRequest) -> int | None:
    """The enterprise the request's user works in; None for superadmins, visitors and the disabled."""
    user = request.user
    if not user.is_authenticated or not user.is_active:
        return None
    enterprise_id = getattr(user, "enterprise_id", None)
    if enterprise_id is None or not user.login_allowed():  # type: ignore[union-attr]
        return None
    return int(enterprise_id)


# The Enterprise model's own permissions (accounts.permissions names them MANAGE_AGENTS, MANAGE_SETTINGS):
# holding one makes an agent an admin of their enterprise, who may enter the area.
ADMIN_PERMISSIONS = ("enterprises.manage_agents", "enterprises.manage_settings")


@dataclass(frozen=True)
class Page:
    """A page of the management area that is not a model's list (the deploy page): its route under
    /manage/, its URL name, its title on the index, the permission it needs and its view."""

    route: str
    name: str
    title: Any
    permission: str
    view: Callable[[HttpRequest], HttpResponse]


class ManageSite(admin.AdminSite):
    site_header = gettext_lazy("GoFly management")
    site_title = gettext_lazy("GoFly management")
    index_title = gettext_lazy("Your enterprise")
    index_template = "enterprises/manage/index.html"
    site_url = "/console"

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.pages: list[Page] = []

    def register_page(self, page: Page) -> None:
        """Add a page (each app, from its admin.py); listed on the index for those who may open it."""
        self.pages.append(page)

    def get_urls(self) -> list[Any]:
        pages = [path(page.route, self.admin_view(self._page_view(page)), name=page.name) for page in self.pages]
        return pages + super().get_urls()

    def _page_view(self, page: Page) -> Callable[..., HttpResponse]:
        def view(request: HttpRequest) -> HttpResponse:
            if not request.user.has_perm(page.permission):
                return self._refused(request, request.get_full_path())
            return page.view(request)

        return update_wrapper(view, page.view)

    def each_context(self, request: HttpRequest) -> dict[str, Any]:
        context = super().each_context(request)
        context["manage_pages"] = [
            (page.title, reverse(f"{self.name}:{page.name}"))
            for page in self.pages
            if request.user.has_perm(page.permission)
        ]
        return context

    def has_permission(self, request: HttpRequest) -> bool:
        """An admin of an active enterprise (who manages its agents or its settings); each page asks for its
        own permission on top (the blacklist's: blocking)."""
        if tenant_of(request) is None or not any(request.user.has_perm(perm) for perm in ADMIN_PERMISSIONS):
            return False
        return any(model_admin.has_module_permission(request) for model_admin in self._registry.values())

    def admin_view(self, view: Any, cacheable: bool = False) -> Any:
        """Django's guard, sending a stranger to the console's login page (and back) in one step and telling
        a signed-in user whose role does not reach here so, instead of offering a login form."""
        guarded = super().admin_view(view, cacheable)

        def inner(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not self.has_permission(request):
                return self._refused(request, request.get_full_path())
            return guarded(request, *args, **kwargs)

        return update_wrapper(inner, view)

    def login(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        return self._refused(request, request.GET.get("next") or "/manage/")

    def _refused(self, request: HttpRequest, then: str) -> HttpResponse:
        if request.user.is_authenticated:
            message = _("Your role does not allow this.")
            return render(request, "chat/unavailable.html", {"message": message}, status=403)
        return redirect_to_login(then, settings.LOGIN_URL)

    def password_change(self, request: HttpRequest, extra_context: Any = None) -> Any:
        """Django's own (the old password required); the change is audited. Its sockets and tokens end by
        the credentials hook (accounts), the session stays (Django updates its hash)."""
        response = super().password_change(request, extra_context)
        if request.method == "POST" and isinstance(response, HttpResponseRedirect):
            audit_record(action=AuditAction.PASSWORD_CHANGED, actor=request.user)
        return response


manage_site = ManageSite(name="manage")


class TenantModelAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """A page of the management area: the user's enterprise's rows, for holders of `permission`.

    `tenant_lookup` is the path from the model to its enterprise's id. `can_add`, `can_change` and
    `can_delete` switch off what the page must not do (the audit log: none). Writes go through the app's
    services, as everywhere: a page that saves or deletes implements `create`, `update` and `remove`
    (a bulk delete removes row by row, each alone). A ChatError raised by a service comes back as a
    message on the page, not a 500.
    """

    permission: str = ""
    tenant_lookup = "enterprise_id"
    can_add = True
    can_change = True
    can_delete = True

    def _allowed(self, request: HttpRequest) -> bool:
        if not self.permission:
            raise ValueError(f"{type(self).__name__} names no permission")
        return tenant_of(request) is not None and request.user.has_perm(self.permission)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._allowed(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return self.can_add and self._allowed(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.can_change and self._allowed(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.can_delete and self._allowed(request)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        enterprise_id = tenant_of(request)
        queryset = super().get_queryset(request)
        return queryset.none() if enterprise_id is None else queryset.filter(**{self.tenant_lookup: enterprise_id})

    def _scoped(self, model: type[models.Model], request: HttpRequest) -> QuerySet[Any] | None:
        fields = {field.name for field in model._meta.get_fields()}
        return model._default_manager.filter(enterprise_id=tenant_of(request)) if "enterprise" in fields else None

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        scoped = self._scoped(db_field.remote_field.model, request)
        if scoped is not None:
            kwargs["queryset"] = scoped
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        scoped = self._scoped(db_field.remote_field.model, request)
        if scoped is not None:
            kwargs["queryset"] = scoped
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def create(self, request: HttpRequest, data: dict[str, Any]) -> models.Model:
        raise NotImplementedError(f"{type(self).__name__}: adding goes through a service")

    def update(self, request: HttpRequest, obj: Any, data: dict[str, Any]) -> None:
        raise NotImplementedError(f"{type(self).__name__}: changing goes through a service")

    def remove(self, request: HttpRequest, obj: Any) -> None:
        raise NotImplementedError(f"{type(self).__name__}: deleting goes through a service")

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if change:
            self.update(request, obj, form.cleaned_data)
        else:
            created = self.create(request, form.cleaned_data)
            obj.pk = created.pk  # for Django's answer: the new row's page, its history entry
            obj.__dict__.update({key: value for key, value in created.__dict__.items() if key != "_state"})

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        pass  # the services saved everything

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        self.remove(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for obj in queryset:
            try:
                self.remove(request, obj)
            except ChatError as refusal:
                self.message_user(request, f"{obj}: {refusal.message}", messages.ERROR)

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        # What a service deletes with a row is the service's business (an agent's row even stays): the
        # confirmation names the rows chosen, and needs no permission on related models.
        names = [str(obj) for obj in objs]
        return names, {self.opts.verbose_name_plural: len(names)}, set(), []

    def changeform_view(
        self, request: HttpRequest, object_id: str | None = None, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ChatError as refusal:
            self.message_user(request, refusal.message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def delete_view(self, request: HttpRequest, object_id: str, extra_context: Any = None) -> HttpResponse:
        try:
            return super().delete_view(request, object_id, extra_context)
        except ChatError as refusal:
            self.message_user(request, refusal.message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())
