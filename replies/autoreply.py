"""Keyword auto-replies on the message path: the answers to a batch's new visitor messages, unsaved.

Called by chat.services.messages_create after the batch is stored; reads each enterprise's compiled
rules at most once per batch (replies.cache: no query while they are unchanged)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .selectors import keyword_rules

if TYPE_CHECKING:
    from chat.models import Message

AUTO_PREFIX = "auto:"  # the answer's client_id is this and the visitor message's id: one answer each


def keyword_answers(messages: list[Message]) -> list[Message]:
    """One automatic agent message per visitor text message that an enabled rule matches."""
    from chat.models import Message

    candidates = [m for m in messages if m.sender == Message.Sender.VISITOR and m.kind == Message.Kind.TEXT]
    if not candidates:
        return []
    rules = keyword_rules.get_many({m.enterprise_id for m in candidates})
    answers = []
    for message in candidates:
        hit = rules[message.enterprise_id].match(message.content)
        if hit is None:
            continue
        answers.append(
            Message(
                enterprise_id=message.enterprise_id,
                visitor=message.visitor,
                conversation=message.conversation,
                agent=None,
                sender=Message.Sender.AGENT,
                kind=Message.Kind.TEXT,
                content=hit.reply,
                client_id=f"{AUTO_PREFIX}{message.pk}",
                meta={"auto": "keyword", "rule": hit.rule_id},
            )
        )
    return answers
