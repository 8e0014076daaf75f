"""Routes of the API's own description, included by gofly_site/urls.py: the OpenAPI document and its docs page
(Swagger UI from drf-spectacular-sidecar's static files). Public, like docs/protocol.md."""

from django.urls import path

from .docs import DocsView, SchemaView

urlpatterns = [
    path("api/v1/schema/", SchemaView.as_view(), name="api-schema"),
    path("api/v1/docs/", DocsView.as_view(url_name="api-schema"), name="api-docs"),
]
