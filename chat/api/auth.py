"""DRF authentication and permission for visitors (their signed token); agents' is core.api.auth.IsAgent."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission

from chat.identity import VisitorClaim, visitor_token_read


@dataclass
class VisitorPrincipal:
    claim: VisitorClaim
    is_authenticated: bool = True


class VisitorTokenAuthentication(BaseAuthentication):
    """`Authorization: Visitor <token>`, the token visitor login returned."""

    keyword = b"visitor"

    def authenticate(self, request: Any) -> tuple[VisitorPrincipal, VisitorClaim] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Malformed visitor authorization header.")
        claim = visitor_token_read(parts[1].decode("latin-1"))
        if claim is None:
            raise exceptions.AuthenticationFailed("Invalid or expired visitor token; log in again.")
        return VisitorPrincipal(claim), claim

    def authenticate_header(self, request: Any) -> str:
        return "Visitor"


class IsVisitor(BasePermission):
    def has_permission(self, request: Any, view: Any) -> bool:
        return isinstance(request.user, VisitorPrincipal)


class VisitorTokenScheme(OpenApiAuthenticationExtension):
    """The visitor token in the OpenAPI document (drf-spectacular finds it by its target class)."""

    target_class = VisitorTokenAuthentication
    name = "visitorToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Visitor <token>`, the token POST /api/v1/visitor/login answered (docs/protocol.md, 2).",
        }
