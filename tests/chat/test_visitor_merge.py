"""chat.services.visitor_merge: a web visitor's history, tags and page trail move to the visitor they turned out
to be (a channel's), in order; the web visitor is retired; other enterprises, channel visitors and signed
identities are never merged away."""

from __future__ import annotations

import pytest

from chat.models import Conversation, Message, Visitor, VisitorPage, VisitorTag
from chat.pages import visitor_page_record
from chat.services import NewMessage, channel_visitor_get_or_create, messages_create, visitor_merge
from chat.workspace import visitor_tag_set_by_system
from core.errors import ChatError
from tests.conftest import login_visitor

pytestmark = pytest.mark.django_db


def write(visitor: Visitor, content: str, client_id: str) -> None:
    result = messages_create([NewMessage(visitor, "visitor", content, client_id)])[0]
    assert not isinstance(result, Exception), result


def said(visitor: Visitor) -> list[str]:
    rows = Message.objects.filter(visitor=visitor, sender="visitor").order_by("pk")
    return list(rows.values_list("content", flat=True))


@pytest.fixture
def channel_visitor(enterprise) -> Visitor:
    return channel_visitor_get_or_create(enterprise=enterprise, channel="wechat", public_id="wx-abc", name="小明")[0]


def test_the_history_tags_and_pages_move_in_order_and_the_web_visitor_is_retired(enterprise, agent, channel_visitor):
    web = login_visitor(enterprise, agent).visitor
    write(channel_visitor, "first, on WeChat", "c1")
    write(web, "then on the web", "w1")
    visitor_tag_set_by_system(visitor=web, name="vip", on=True)
    visitor_page_record(visitor=web, url="https://shop.example.com/cart", title="Cart")
    assert visitor_merge(source=web, into=channel_visitor)
    assert said(channel_visitor) == ["first, on WeChat", "then on the web"]
    assert VisitorTag.objects.filter(visitor=channel_visitor, tag__name="vip").exists()
    assert VisitorPage.objects.filter(visitor=channel_visitor).count() == 1
    assert not Visitor.objects.filter(pk=web.pk).exists()
    live = Conversation.objects.filter(visitor=channel_visitor).exclude(status="closed")
    assert live.count() == 1 and live.get().open_visitor_id == channel_visitor.pk
    channel_visitor.refresh_from_db()
    assert channel_visitor.last_message_at is not None


def test_a_web_visitors_live_conversation_becomes_the_kept_visitors_when_it_has_none(
    enterprise, agent, channel_visitor
):
    web = login_visitor(enterprise, agent).visitor
    write(web, "hello", "w1")
    conversation = Conversation.objects.get(open_visitor=web)
    visitor_merge(source=web, into=channel_visitor)
    conversation.refresh_from_db()
    assert (conversation.visitor_id, conversation.open_visitor_id) == (channel_visitor.pk, channel_visitor.pk)


def test_no_merge_across_enterprises_nor_of_a_channel_visitor_or_a_signed_identity(
    enterprise, other_enterprise, agent, other_agent, channel_visitor
):
    theirs = login_visitor(other_enterprise, other_agent).visitor
    with pytest.raises(ChatError):
        visitor_merge(source=theirs, into=channel_visitor)
    web = login_visitor(enterprise, agent).visitor
    assert visitor_merge(source=channel_visitor, into=web) is False
    Visitor.objects.filter(pk=web.pk).update(identity_verified=True)
    web.refresh_from_db()
    assert visitor_merge(source=web, into=channel_visitor) is False
    assert visitor_merge(source=channel_visitor, into=channel_visitor) is False
    assert Visitor.objects.filter(pk__in=[theirs.pk, web.pk, channel_visitor.pk]).count() == 3
