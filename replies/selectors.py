"""Reads of replies: the composer's canned replies, the compiled keyword rules, the welcome texts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q

from accounts.models import User

from .cache import cached
from .models import CannedGroup, CannedReply, KeywordRule, WelcomeText


@dataclass(frozen=True)
class Hit:
    rule_id: int
    reply: str
    rank: tuple[int, int]  # (-priority, id): lower wins


@dataclass
class Rules:
    """An enterprise's enabled rules, compiled once: exact keywords in a dict, the others in rank order."""

    exact: dict[str, Hit] = field(default_factory=dict)
    contains: list[tuple[str, Hit]] = field(default_factory=list)

    def match(self, text: str) -> Hit | None:
        """The highest-ranked rule the text matches; at most one dict lookup and one pass over `contains`."""
        folded = text.strip().casefold()
        if not folded:
            return None
        best = self.exact.get(folded)
        for keyword, hit in self.contains:
            if best is not None and hit.rank > best.rank:
                break
            if keyword in folded:
                return hit
        return best


def _rules_load(enterprise_ids: list[int]) -> dict[int, Rules]:
    compiled = {ent: Rules() for ent in enterprise_ids}
    rows = KeywordRule.objects.filter(enterprise_id__in=enterprise_ids, enabled=True).order_by("-priority", "id")
    for enterprise_id, pk, keyword, match, reply, priority in rows.values_list(
        "enterprise_id", "pk", "keyword", "match", "reply", "priority"
    ):
        rules = compiled[enterprise_id]
        hit = Hit(pk, reply, (-priority, pk))
        folded = keyword.strip().casefold()
        if not folded:
            continue
        if match == KeywordRule.Match.EXACT:
            rules.exact.setdefault(folded, hit)  # rows come best first
        else:
            rules.contains.append((folded, hit))
    return compiled


def _welcomes_load(enterprise_ids: list[int]) -> dict[int, list[tuple[str, str]]]:
    found: dict[int, list[tuple[str, str]]] = {ent: [] for ent in enterprise_ids}
    rows = WelcomeText.objects.filter(enterprise_id__in=enterprise_ids).order_by("position", "id")
    for enterprise_id, language, content in rows.values_list("enterprise_id", "language", "content"):
        found[enterprise_id].append((language, content))
    return found


keyword_rules = cached(_rules_load)
_welcomes = cached(_welcomes_load)


def welcomes_of(enterprise: Any, language: str) -> list[str]:
    """The enterprise's welcome texts for a reader of `language`, sanitised HTML in order: those written in
    that language, else those for every language, else (only texts in other languages) all of them, so that
    nobody is welcomed by nothing. The rows the console's welcome screen lists are the only source of what
    visitors are welcomed with. No query while the cache holds them."""
    rows = _welcomes.get(enterprise.pk)
    return (
        [content for lang, content in rows if lang == language]
        or [content for lang, content in rows if not lang]
        or [content for _lang, content in rows]
    )


def welcome_texts(*, enterprise_id: int) -> list[dict[str, Any]]:
    return [welcome_text_payload(row) for row in WelcomeText.objects.filter(enterprise_id=enterprise_id)]


def welcome_text_payload(row: WelcomeText) -> dict[str, Any]:
    return {"id": row.pk, "content": row.content, "language": row.language, "position": row.position}


def rule_payload(rule: KeywordRule) -> dict[str, Any]:
    return {
        "id": rule.pk,
        "keyword": rule.keyword,
        "match": rule.match,
        "reply": rule.reply,
        "priority": rule.priority,
        "enabled": rule.enabled,
    }


def keyword_rule_list(*, enterprise_id: int) -> list[dict[str, Any]]:
    return [rule_payload(rule) for rule in KeywordRule.objects.filter(enterprise_id=enterprise_id)]


def group_payload(group: CannedGroup) -> dict[str, Any]:
    return {
        "id": group.pk,
        "name": group.name,
        "scope": "personal" if group.owner_id else "enterprise",
        "position": group.position,
    }


def canned_payload(reply: CannedReply) -> dict[str, Any]:
    return {
        "id": reply.pk,
        "group_id": reply.group_id,
        "title": reply.title,
        "content": reply.content,
        "scope": "personal" if reply.owner_id else "enterprise",
        "position": reply.position,
    }


def _visible(agent: User) -> Q:
    return Q(enterprise_id=agent.enterprise_id) & (Q(owner__isnull=True) | Q(owner=agent))


def canned_for_agent(*, agent: User, q: str = "") -> dict[str, Any]:
    """The composer's list: the enterprise's and the agent's own groups and replies, in two queries;
    `q` keeps replies whose title or content contains it."""
    groups = CannedGroup.objects.filter(_visible(agent)).order_by("owner_id", "position", "id")
    replies = CannedReply.objects.filter(_visible(agent))
    if q:
        replies = replies.filter(Q(title__icontains=q) | Q(content__icontains=q))
    return {
        "groups": [group_payload(group) for group in groups],
        "replies": [canned_payload(reply) for reply in replies.order_by("owner_id", "position", "id")[:500]],
    }
