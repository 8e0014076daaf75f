"""The shapes of the chat API's answers and of its hand-read bodies, for the OpenAPI document only: the answers
are built by chat/frames.py and chat/selectors.py, never through these serializers (tests/test_openapi.py
checks real answers against them)."""

from __future__ import annotations

from rest_framework import serializers

from accounts.models import AgentStatus
from chat.models import Attachment, Conversation, Message


class AgentBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    avatar = serializers.CharField()


class AssigneeSerializer(serializers.Serializer):
    name = serializers.CharField()
    avatar = serializers.CharField()


class MessageSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="Only grows: order by it.")
    client_id = serializers.CharField()
    visitor_id = serializers.CharField()
    conversation_id = serializers.IntegerField(allow_null=True)
    sender = serializers.ChoiceField(choices=Message.Sender.choices)
    kind = serializers.ChoiceField(choices=Message.Kind.choices)
    content = serializers.CharField()
    created_at = serializers.DateTimeField()
    read_at = serializers.DateTimeField(allow_null=True)
    agent = AgentBriefSerializer(allow_null=True)
    meta = serializers.DictField(required=False, help_text="A timeline line's details, an upload, a left message.")


class MessagePageSerializer(serializers.Serializer):
    messages = MessageSerializer(many=True, help_text="Newest first.")
    more = serializers.BooleanField(help_text="Whether older messages exist (pass the smallest id as `before`).")


class MessageSentSerializer(serializers.Serializer):
    message = MessageSerializer()
    duplicate = serializers.BooleanField(help_text="This `client_id` was stored before: nothing was sent again.")


class MessageLeftSerializer(serializers.Serializer):
    message = MessageSerializer()


class LastMessageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    content = serializers.CharField(help_text="Its first 200 characters.")
    sender = serializers.ChoiceField(choices=Message.Sender.choices)
    kind = serializers.ChoiceField(choices=Message.Kind.choices)
    created_at = serializers.DateTimeField()
    meta = serializers.DictField(required=False)


class VisitorSummarySerializer(serializers.Serializer):
    visitor_id = serializers.CharField()
    name = serializers.CharField()
    real_name = serializers.CharField(help_text="The agents' remark name; empty when none.")
    avatar = serializers.CharField()
    channel = serializers.CharField(help_text='Where the visitor talks from: "web" or "wechat" (a follower).')
    city = serializers.CharField()
    country = serializers.CharField()
    region = serializers.CharField()
    isp = serializers.CharField()
    os = serializers.CharField()
    browser = serializers.CharField()
    device = serializers.CharField()
    device_model = serializers.CharField()
    search_words = serializers.CharField()
    ip = serializers.CharField(allow_null=True)
    referrer = serializers.CharField()
    landing_page = serializers.CharField()
    user_agent = serializers.CharField()
    extra = serializers.DictField()
    visits = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    last_message = LastMessageSerializer(allow_null=True)
    unread = serializers.IntegerField()
    online = serializers.BooleanField()


class VisitorListSerializer(serializers.Serializer):
    visitors = VisitorSummarySerializer(many=True)


class ConversationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    visitor_id = serializers.CharField()
    channel = serializers.ChoiceField(choices=Conversation.Channel.choices)
    status = serializers.ChoiceField(choices=Conversation.Status.choices)
    assignee = AgentBriefSerializer(allow_null=True)
    created_at = serializers.DateTimeField(allow_null=True)
    assigned_at = serializers.DateTimeField(allow_null=True)
    first_reply_at = serializers.DateTimeField(allow_null=True)
    last_activity_at = serializers.DateTimeField(allow_null=True)
    closed_at = serializers.DateTimeField(allow_null=True)
    closed_by = serializers.ChoiceField(choices=Conversation.ClosedBy.choices, allow_null=True)
    transfer_note = serializers.CharField(required=False, help_text="For its assignee only, from the transfer.")


class ConversationRowSerializer(ConversationSerializer):
    visitor = VisitorSummarySerializer()


class ConversationCountsSerializer(serializers.Serializer):
    mine = serializers.IntegerField()
    queue = serializers.IntegerField()
    open = serializers.IntegerField()
    closed = serializers.IntegerField()


class ConversationPageSerializer(serializers.Serializer):
    conversations = ConversationRowSerializer(many=True)
    more = serializers.BooleanField()
    counts = ConversationCountsSerializer()


class VisitorPageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.CharField()
    title = serializers.CharField()
    created_at = serializers.DateTimeField()


class VisitorBlockSerializer(serializers.Serializer):
    reason = serializers.CharField()
    expires_at = serializers.DateTimeField(allow_null=True)


class VisitorDetailSerializer(VisitorSummarySerializer):
    conversations = ConversationSerializer(many=True, help_text="Newest first, up to 50.")
    pages = VisitorPageSerializer(many=True, help_text="The operator's pages the widget reported, newest first.")
    blocked = VisitorBlockSerializer(allow_null=True)
    tags = serializers.ListField(child=serializers.IntegerField(), help_text="Tag ids, in the order put on.")


class VisitorConversationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=Conversation.Status.choices)
    assignee = AssigneeSerializer(allow_null=True)
    queue_position = serializers.IntegerField(allow_null=True, help_text="1 is next; null unless waiting.")
    closed_by = serializers.ChoiceField(choices=Conversation.ClosedBy.choices, allow_null=True)


class VisitorConversationAnswerSerializer(serializers.Serializer):
    conversation = VisitorConversationSerializer(allow_null=True)


class AgentStatusSerializer(AgentBriefSerializer):
    status = serializers.ChoiceField(choices=AgentStatus.choices, help_text="Offline while no socket is open.")
    chosen = serializers.ChoiceField(choices=AgentStatus.choices, help_text="What the agent chose.")
    load = serializers.IntegerField(help_text="Open conversations assigned to the agent.")
    limit = serializers.IntegerField(help_text="Their limit of open conversations (0: none).")


class AgentListSerializer(serializers.Serializer):
    agents = AgentStatusSerializer(many=True)


class AgentMeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    name = serializers.CharField()
    avatar = serializers.CharField()
    enterprise_id = serializers.IntegerField()
    role = serializers.CharField(allow_null=True)
    permissions = serializers.ListField(child=serializers.CharField())


class RoutingSettingsAnswerSerializer(serializers.Serializer):
    max_conversations_per_agent = serializers.IntegerField(help_text="0: no limit.")
    auto_close_minutes = serializers.IntegerField(help_text="0: never.")
    offline_text = serializers.CharField()
    offline_text_en = serializers.CharField()
    landing_domain = serializers.CharField(help_text='An origin, or "" for none.')


class AttachmentSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="Name it as `attachment` when sending the message.")
    kind = serializers.ChoiceField(choices=Attachment.Kind.choices)
    name = serializers.CharField()
    size = serializers.IntegerField()
    content_type = serializers.CharField()
    url = serializers.CharField()
    thumb_url = serializers.CharField()
    width = serializers.IntegerField(allow_null=True)
    height = serializers.IntegerField(allow_null=True)


class UploadedSerializer(serializers.Serializer):
    attachment = AttachmentSerializer()
    duplicate = serializers.BooleanField(help_text="This `upload_id` was stored before: the stored upload.")


class UploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="Exactly one; its type is read from its content.")
    upload_id = serializers.CharField(help_text="1 to 64 of A-Z a-z 0-9 . _ : -; a retry with it stores nothing twice.")


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField()


class MarkedSerializer(serializers.Serializer):
    marked = serializers.IntegerField(help_text="How many messages changed.")


class ClearedSerializer(serializers.Serializer):
    cleared = serializers.BooleanField()


class TagSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    colour = serializers.CharField()


class TagListSerializer(serializers.Serializer):
    tags = TagSerializer(many=True)


class TagBodySerializer(serializers.Serializer):
    name = serializers.CharField(help_text="At most 30 characters, unique in the enterprise.")
    colour = serializers.CharField(required=False, help_text="grey red orange yellow green teal blue purple pink")


class VisitorTagBodySerializer(serializers.Serializer):
    tag_id = serializers.IntegerField()


class VisitorTagsSerializer(serializers.Serializer):
    visitor_id = serializers.CharField()
    tags = serializers.ListField(child=serializers.IntegerField())


class RemarkSerializer(serializers.Serializer):
    visitor_id = serializers.CharField(read_only=True)
    real_name = serializers.CharField(help_text='At most 100 characters on one line; "" clears it.')


class SearchHitSerializer(VisitorSummarySerializer):
    match = serializers.CharField(allow_null=True, help_text="The newest matching message's snippet.")


class SearchSerializer(serializers.Serializer):
    visitors = SearchHitSerializer(many=True)
    limit = serializers.IntegerField()


class LoginVisitorSerializer(serializers.Serializer):
    visitor_id = serializers.CharField()
    name = serializers.CharField()
    avatar = serializers.CharField()


class LoginEnterpriseSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    welcome = serializers.CharField()
    welcomes = serializers.ListField(child=serializers.CharField(), help_text="Sanitised HTML, in order.")
    offline_text = serializers.CharField()


class UploadLimitsSerializer(serializers.Serializer):
    image_max_mb = serializers.IntegerField()
    file_max_mb = serializers.IntegerField()


class ProductSerializer(serializers.Serializer):
    title = serializers.CharField()
    price = serializers.CharField()
    img = serializers.CharField()
    url = serializers.CharField()


class VisitorLoggedInSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Send it as `Authorization: Visitor <token>`; store the newest.")
    created = serializers.BooleanField()
    visitor = LoginVisitorSerializer()
    enterprise = LoginEnterpriseSerializer()
    agent = AssigneeSerializer(allow_null=True)
    uploads = UploadLimitsSerializer()
    product = ProductSerializer(allow_null=True)
    ws_path = serializers.CharField()
    agents_online = serializers.IntegerField()


class WidgetAgentSerializer(AssigneeSerializer):
    online = serializers.BooleanField()


class WidgetEnterpriseSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class WidgetStateSerializer(serializers.Serializer):
    """With `allowed` false, only `origin` follows; with true, every other field."""

    allowed = serializers.BooleanField()
    origin = serializers.CharField(required=False, help_text="The origin as the enterprise must list it.")
    enterprise = WidgetEnterpriseSerializer(required=False)
    online = serializers.BooleanField(required=False)
    agents_online = serializers.IntegerField(required=False)
    agent = WidgetAgentSerializer(required=False, allow_null=True)
    welcome = serializers.CharField(required=False)
    offline_text = serializers.CharField(required=False)
