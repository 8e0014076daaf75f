"""The shapes of the blacklist API's answers and body, for the OpenAPI document only: the answers are built by
blacklist/selectors.py (tests/test_openapi.py checks real answers against them)."""

from __future__ import annotations

from rest_framework import serializers


class BlacklistEntrySerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["visitor", "ip"])
    id = serializers.CharField(help_text="The visitor's public id (kind `visitor`) or the entry's id (kind `ip`).")
    what = serializers.CharField(help_text="The visitor's name, or the network.")
    reason = serializers.CharField()
    expires_at = serializers.DateTimeField(allow_null=True, help_text="null: for ever.")
    created_at = serializers.DateTimeField(allow_null=True)
    created_by = serializers.CharField(allow_null=True, help_text="The blocking agent's username.")


class BlacklistSerializer(serializers.Serializer):
    entries = BlacklistEntrySerializer(many=True)


class BlockSerializer(serializers.Serializer):
    """Either `visitor_id` (with `what`) or `network`."""

    visitor_id = serializers.CharField(required=False, help_text="Block this visitor, or their address or network.")
    what = serializers.ChoiceField(choices=["visitor", "ip", "network"], required=False, default="visitor")
    network = serializers.CharField(required=False, help_text="Without `visitor_id`: an address or a CIDR network.")
    reason = serializers.CharField(required=False, help_text="At most 200 characters.")
    until = serializers.CharField(
        required=False, help_text="`1h`, `1d`, `7d`, `30d`, `forever` (the default), or an ISO 8601 datetime."
    )
