"""The OpenAPI document's machinery (drf-spectacular): the one error body, the refusals every endpoint of a kind
may answer, plain (async) Django views described by a DRF class, and the document kept to /api/v1/."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from drf_spectacular import generators, openapi
from drf_spectacular.contrib import rest_framework_simplejwt as simplejwt_schema
from drf_spectacular.extensions import OpenApiViewExtension
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import serializers

from .auth import IsAgent

# The routes the document describes; everything else (pages, /admin, /manage, probes) is left out even if a
# DRF view ever serves it.
API_PREFIX = "/api/v1/"

# What a scheme's 401 means, by the security scheme's name (chat/api/auth.py, drf-spectacular's simplejwt one).
_UNAUTHENTICATED = {
    "jwtAuth": "`token_not_valid`: the JWT is malformed, expired, of the wrong type or revoked",
    "visitorToken": "`authentication_failed`: the visitor token is malformed, forged or expired",
    "cookieAuth": "the console's session has ended",
}
_BODY_REFUSALS = {
    400: "`parse_error` (not JSON), `bad_text` (a lone surrogate or NUL), `too_deep` (over 20 levels), "
    "`invalid` (`message` names each bad field)",
    413: "`too_large`: the body is over the size limit",
    415: "`unsupported_media_type`: not the body's media type",
}
_UNAVAILABLE = "`unavailable`: the database or Redis is briefly away; retry shortly"


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string"},
            {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
        ],
        "description": "A human text in the request's language; for `invalid`, an object naming each bad field.",
    }
)
class ErrorMessageField(serializers.Field):
    """Only described: error bodies are built by core.api.errors, never through this serializer."""


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable, machine-readable: clients branch on it (docs/protocol.md, 3).")
    message = ErrorMessageField()


class ErrorSerializer(serializers.Serializer):
    """Every refusal of the API: {"error": {"code", "message"}} with a real HTTP status (core/api/errors.py)."""

    error = ErrorDetailSerializer()


def errors(refusals: Mapping[int, str]) -> dict[int, OpenApiResponse]:
    """Responses for `extend_schema(responses=...)`: each status with the error codes it answers, e.g.
    `errors({404: "`not_found`", 409: "`tag_exists`"})`. The refusals common to every endpoint of a kind
    (authentication, a JSON body, the database away) are added by AutoSchema."""
    return {status: OpenApiResponse(ErrorSerializer, description=text) for status, text in refusals.items()}


def _credential_refusals(security: list[dict[str, Any]]) -> list[tuple[int, str]]:
    """The 401 of an operation that needs credentials, with what each of its schemes answers."""
    if not security or {} in security:
        return []
    schemes = [name for requirement in security for name in requirement]
    texts = ["`not_authenticated`: no credentials of this endpoint's kind"]
    return [(401, text) for text in texts + [_UNAUTHENTICATED[name] for name in schemes if name in _UNAUTHENTICATED]]


def _body_refusals(media_types: Mapping[str, Any]) -> list[tuple[int, str]]:
    """What a request body may be refused with: the JSON rules only for JSON, and no 415 where any body is
    read as form data (visitor login)."""
    if not media_types:
        return []
    return [
        (status, text)
        for status, text in _BODY_REFUSALS.items()
        if not (status == 400 and "application/json" not in media_types)
        and not (status == 415 and "application/x-www-form-urlencoded" in media_types)
    ]


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's, adding to each operation the refusals its kind answers: 401 for credentials, 403
    for a user who is not an agent, 400/413/415 for a request body, 503; a view adds its own kind's with an
    `openapi_errors` class attribute ({status: description}). Descriptions of one status are joined."""

    def get_operation(
        self, path: str, path_regex: str, path_prefix: str, method: str, registry: Any
    ) -> dict[str, Any] | None:
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        for status, text in self._common_refusals(operation).items():
            self._add_refusal(operation["responses"], str(status), text)
        operation["responses"] = dict(sorted(operation["responses"].items()))
        return operation

    def _common_refusals(self, operation: dict[str, Any]) -> dict[int, str]:
        found: dict[int, list[str]] = {}
        for status, text in [
            *_credential_refusals(operation.get("security", [])),
            *(
                (403, "`permission_denied`: the user is not an agent of an enterprise")
                for permission in self.view.get_permissions()
                if isinstance(permission, IsAgent)
            ),
            *getattr(self.view, "openapi_errors", {}).items(),
            *_body_refusals(operation.get("requestBody", {}).get("content", {})),
            (503, _UNAVAILABLE),
        ]:
            found.setdefault(status, []).append(text)
        return {status: "; ".join(texts) for status, texts in found.items()}

    def _add_refusal(self, responses: dict[str, Any], status: str, text: str) -> None:
        existing = responses.get(status)
        if existing is None:
            responses[status] = self._get_response_for_code(OpenApiResponse(ErrorSerializer, description=text), status)
        else:  # the endpoint's own refusals of that status first, then the common ones
            existing["description"] = "; ".join(part for part in (existing.get("description"), text) if part)


# --- simplejwt, subclassed by the agent JWT's classes: drf-spectacular's own descriptions match the base only ---


class AgentJWTScheme(simplejwt_schema.SimpleJWTScheme):
    match_subclasses = True
    priority = 1


class TokenObtainBody(simplejwt_schema.TokenObtainPairSerializerExtension):
    match_subclasses = True
    priority = 1


class TokenRefreshBody(simplejwt_schema.TokenRefreshSerializerExtension):
    match_subclasses = True
    priority = 1


class TokenRefreshRefusals(OpenApiViewExtension):
    """simplejwt's refresh view has no authentication class, so AutoSchema would not list its 401."""

    target_class = "rest_framework_simplejwt.views.TokenRefreshView"

    def view_replacement(self) -> type[Any]:
        refused = "`token_not_valid`: the refresh token is invalid, expired, revoked or an access token: log in again"
        answers = {200: self.target().get_serializer_class(), **errors({401: refused})}
        view = type(self.target.__name__, (self.target,), {"__doc__": self.target.__doc__})
        return extend_schema_view(post=extend_schema(responses=answers))(view)


# --- plain Django views -------------------------------------------------------------------------------------

ViewFunction = TypeVar("ViewFunction", bound=Callable[..., Any])


def described_by(view_class: type[Any]) -> Callable[[ViewFunction], ViewFunction]:
    """For a plain Django view (an async one: DRF's request handling is sync): the DRF APIView whose annotated
    handlers describe it in the document. That class is never routed; the view answers as before."""

    def mark(view: ViewFunction) -> ViewFunction:
        view.openapi_view = view_class.as_view()  # type: ignore[attr-defined]
        return view

    return mark


def _described(callback: Any) -> Any:
    return getattr(callback, "openapi_view", callback)


class EndpointEnumerator(generators.EndpointEnumerator):
    def should_include_endpoint(self, path: str, callback: Any) -> bool:
        return bool(super().should_include_endpoint(path, _described(callback)))

    def get_allowed_methods(self, callback: Any) -> list[str]:
        return list(super().get_allowed_methods(_described(callback)))


class SchemaGenerator(generators.SchemaGenerator):
    endpoint_inspector_cls = EndpointEnumerator

    def create_view(self, callback: Any, method: str, request: Any = None) -> Any:
        return super().create_view(_described(callback), method, request)


def api_routes_only(endpoints: list[tuple[str, str, str, Any]], **kwargs: Any) -> list[tuple[str, str, str, Any]]:
    """Preprocessing hook: only the routes under /api/v1/ (never /admin, /manage or a page)."""
    return [endpoint for endpoint in endpoints if endpoint[0].startswith(API_PREFIX)]
