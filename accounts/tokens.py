"""Agent JWTs that die with the credentials they were issued for (password change, deactivation)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from rest_framework_simplejwt import authentication, serializers, tokens
from rest_framework_simplejwt.exceptions import InvalidToken

from enterprises.audit import audit_record
from enterprises.models import AuditAction

from .models import User

# The user's credentials_version when the token was issued; refresh tokens pass it on to access tokens.
CREDENTIALS_CLAIM = "cv"


def token_current(user: User, token: Any) -> bool:
    """Whether `token` was issued for the user's present credentials (a token without the claim never is),
    and the user may still log in (active, in an active enterprise; `enterprise` loaded)."""
    return user.login_allowed() and token.get(CREDENTIALS_CLAIM) == user.credentials_version


def _revoked() -> InvalidToken:
    # The same code as an expired token, so a client does what it already does: refresh, then log in.
    return InvalidToken(_("Token was revoked by a password change, a deactivation or a suspension; log in again."))


class _Stamped:
    @classmethod
    def for_user(cls, user: Any) -> Any:
        token = super().for_user(user)  # type: ignore[misc]
        token[CREDENTIALS_CLAIM] = user.credentials_version
        return token


class AgentAccessToken(_Stamped, tokens.AccessToken):
    pass


class AgentRefreshToken(_Stamped, tokens.RefreshToken):
    access_token_class = AgentAccessToken


class TokenObtainSerializer(serializers.TokenObtainPairSerializer):
    token_class = AgentRefreshToken

    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        data = super().validate(attrs)  # a refused login is audited by accounts.signals (user_login_failed)
        audit_record(action=AuditAction.LOGIN, actor=self.user, details={"via": "jwt"})
        return data


class TokenRefreshSerializer(serializers.TokenRefreshSerializer):
    token_class = AgentRefreshToken

    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        refresh = self.token_class(attrs["refresh"])
        user = User.objects.filter(pk=refresh.get("user_id")).select_related("enterprise").first()
        if user is None or not token_current(user, refresh):
            raise _revoked()
        return super().validate(attrs)


class JWTAuthentication(authentication.JWTAuthentication):
    def get_user(self, validated_token: Any) -> Any:
        # simplejwt's own lookup, with the enterprise in the same query: token_current reads it.
        user = User.objects.filter(pk=validated_token.get("user_id")).select_related("enterprise").first()
        if user is None or not token_current(user, validated_token):
            raise _revoked()
        return user
