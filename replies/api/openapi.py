"""The shapes of the replies API's answers and bodies, for the OpenAPI document only: the answers are built by
replies/selectors.py and the bodies read by its views (tests/test_openapi.py checks real answers against them)."""

from __future__ import annotations

from rest_framework import serializers

from ..models import KeywordRule

_SCOPES = ["personal", "enterprise"]


class CannedGroupSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField()
    scope = serializers.ChoiceField(choices=_SCOPES, default="personal", help_text="`enterprise`: admins only.")
    position = serializers.IntegerField(required=False)


class CannedReplySerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    group_id = serializers.IntegerField(allow_null=True, required=False, help_text="A group of the same scope.")
    title = serializers.CharField(help_text="At most 100 characters.")
    content = serializers.CharField(
        help_text="At most 2000 characters; may hold {visitor_name}, {agent_name}, {enterprise_name}."
    )
    scope = serializers.ChoiceField(choices=_SCOPES, default="personal", help_text="`enterprise`: admins only.")
    position = serializers.IntegerField(required=False)


class CannedListSerializer(serializers.Serializer):
    groups = CannedGroupSerializer(many=True)
    replies = CannedReplySerializer(many=True)


class CannedReorderSerializer(serializers.Serializer):
    ids = serializers.ListField(child=serializers.IntegerField(), help_text="Reply ids: positions 0, 1, ...")


class KeywordRuleSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    keyword = serializers.CharField(help_text="At most 100 characters.")
    match = serializers.ChoiceField(choices=KeywordRule.Match.choices, required=False)
    reply = serializers.CharField(help_text="At most 2000 characters.")
    priority = serializers.IntegerField(required=False, help_text="The highest wins.")
    enabled = serializers.BooleanField(required=False)


class KeywordRuleListSerializer(serializers.Serializer):
    rules = KeywordRuleSerializer(many=True)


class WelcomeTextSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    content = serializers.CharField(help_text="At most 5000 characters of HTML, sanitised on the server.")
    language = serializers.CharField(required=False, help_text='"" (every language) or a language code.')
    position = serializers.IntegerField(required=False)


class WelcomeTextListSerializer(serializers.Serializer):
    welcome_texts = WelcomeTextSerializer(many=True)
