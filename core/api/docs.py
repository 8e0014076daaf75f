"""The OpenAPI document (YAML, or JSON with ?format=json or an Accept of JSON) and Swagger UI, both public.

Swagger UI comes from drf-spectacular-sidecar's static files, and its start script from this same URL
(`?script`), not inline, so the page keeps the site's policy of scripts from our own origin only."""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.utils import translation
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.request import Request
from rest_framework.response import Response

from .schema import SchemaGenerator


def _language() -> str:
    """The language the document is written in: one of settings.LANGUAGES, whatever `?lang=` asked for."""
    try:
        return translation.get_supported_language_variant(translation.get_language() or "")
    except LookupError:
        return str(settings.LANGUAGE_CODE)


class DocumentOnce(SchemaGenerator):
    """The document changes only with the code: generated once per process and language (a tenth of a second
    of CPU each time otherwise, for anyone who asks). At most one per language of settings.LANGUAGES."""

    documents: ClassVar[dict[str, Any]] = {}

    def get_schema(self, request: Any = None, public: bool = False) -> Any:
        language = _language()
        if language not in self.documents:
            with translation.override(language):
                self.documents[language] = super().get_schema(request=request, public=public)
        return self.documents[language]


class SchemaView(SpectacularAPIView):
    generator_class = DocumentOnce


class DocsView(SpectacularSwaggerSplitView):
    @extend_schema(exclude=True)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().get(request, *args, **kwargs)
        # The start script holds the CSRF token for "Try it out": no other site may load it as a script.
        response["Cross-Origin-Resource-Policy"] = "same-origin"
        return response
