"""Writes of replies: canned groups and replies, keyword rules, welcome texts. Scoped to the agent's
enterprise; enterprise-wide rows, rules and welcome texts need MANAGE_SETTINGS, personal ones are their
owner's. Rule and welcome changes bump the cache version after commit (replies.cache)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.permissions import MANAGE_SETTINGS, require
from core.errors import ChatError, forbidden, not_found
from core.jsonin import row_id
from enterprises.models import Enterprise

from . import cache
from .models import KEYWORD_MAX, TEXT_MAX, TITLE_MAX, WELCOME_MAX, CannedGroup, CannedReply, KeywordRule, WelcomeText
from .sanitise import plain, sanitise

RULES_MAX = 500
WELCOMES_MAX = 20
CANNED_MAX = 2000
PERSONAL = "personal"
ENTERPRISE = "enterprise"


def _text(value: Any, *, what: str, limit: int, blank: bool = False) -> str:
    if not isinstance(value, str):
        raise ChatError("invalid", _("%(what)s must be text.") % {"what": what})
    value = value.strip()
    if not value and not blank:
        raise ChatError("invalid", _("%(what)s may not be empty.") % {"what": what})
    if len(value) > limit:
        raise ChatError("too_long", _("%(what)s is longer than %(limit)d characters.") % {"what": what, "limit": limit})
    if any(0xD800 <= ord(ch) <= 0xDFFF or ch == "\x00" for ch in value):
        raise ChatError("invalid", _("%(what)s contains characters that cannot be stored.") % {"what": what})
    return value


def _int(value: Any, *, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not -1_000_000 <= value <= 1_000_000:
        raise ChatError("invalid", _("%(what)s must be a whole number.") % {"what": what})
    return value


def _enterprise_id(agent: User) -> int:
    if agent.enterprise_id is None:
        raise forbidden()
    return agent.enterprise_id


def _owner_for(agent: User, scope: Any) -> User | None:
    """Who owns a new row of that scope; enterprise-wide ones need MANAGE_SETTINGS."""
    if scope == PERSONAL:
        return agent
    if scope == ENTERPRISE:
        require(agent, MANAGE_SETTINGS)
        return None
    raise ChatError("invalid", _("Scope must be “enterprise” or “personal”."))


def _may_edit(agent: User, row: CannedGroup | CannedReply) -> None:
    if row.owner_id is None:
        require(agent, MANAGE_SETTINGS)
    elif row.owner_id != agent.pk:
        raise not_found(_("Canned reply"))


def _group(agent: User, group_id: Any) -> CannedGroup:
    """A group the agent sees (the enterprise's or its own); others' answer like missing ones."""
    if (pk := row_id(group_id)) is not None:
        group = CannedGroup.objects.filter(pk=pk, enterprise_id=_enterprise_id(agent)).first()
        if group is not None and group.owner_id in (None, agent.pk):
            return group
    raise not_found(_("Group"))


def _reply(agent: User, reply_id: Any) -> CannedReply:
    if (pk := row_id(reply_id)) is not None:
        reply = CannedReply.objects.filter(pk=pk, enterprise_id=_enterprise_id(agent)).first()
        if reply is not None and reply.owner_id in (None, agent.pk):
            return reply
    raise not_found(_("Canned reply"))


@transaction.atomic
def canned_group_create(*, agent: User, scope: Any, name: Any, position: Any = 0) -> CannedGroup:
    owner = _owner_for(agent, scope)
    return CannedGroup.objects.create(
        enterprise_id=_enterprise_id(agent),
        owner=owner,
        name=_text(name, what=_("Name"), limit=TITLE_MAX),
        position=_int(position, what=_("Position")),
    )


@transaction.atomic
def canned_group_update(*, agent: User, group_id: Any, name: Any = None, position: Any = None) -> CannedGroup:
    group = _group(agent, group_id)
    _may_edit(agent, group)
    if name is not None:
        group.name = _text(name, what=_("Name"), limit=TITLE_MAX)
    if position is not None:
        group.position = _int(position, what=_("Position"))
    group.save()
    return group


@transaction.atomic
def canned_group_delete(*, agent: User, group_id: Any) -> None:
    group = _group(agent, group_id)
    _may_edit(agent, group)
    group.delete()  # with its replies


@transaction.atomic
def canned_reply_create(
    *, agent: User, scope: Any, title: Any, content: Any, group_id: Any = None, position: Any = 0
) -> CannedReply:
    owner = _owner_for(agent, scope)
    group = None
    if group_id is not None:
        group = _group(agent, group_id)
        if group.owner_id != (owner.pk if owner else None):
            raise ChatError("invalid", _("The group belongs to another scope."))
    ent = _enterprise_id(agent)
    if CannedReply.objects.filter(enterprise_id=ent, owner=owner).count() >= CANNED_MAX:
        raise ChatError("too_many", _("Too many canned replies."))
    return CannedReply.objects.create(
        enterprise_id=ent,
        owner=owner,
        group=group,
        title=_text(title, what=_("Title"), limit=TITLE_MAX),
        content=_text(content, what=_("Content"), limit=TEXT_MAX),
        position=_int(position, what=_("Position")),
    )


@transaction.atomic
def canned_reply_update(
    *,
    agent: User,
    reply_id: Any,
    title: Any = None,
    content: Any = None,
    group_id: Any = ...,
    position: Any = None,
) -> CannedReply:
    reply = _reply(agent, reply_id)
    _may_edit(agent, reply)
    if title is not None:
        reply.title = _text(title, what=_("Title"), limit=TITLE_MAX)
    if content is not None:
        reply.content = _text(content, what=_("Content"), limit=TEXT_MAX)
    if position is not None:
        reply.position = _int(position, what=_("Position"))
    if group_id is not ...:
        group = None if group_id is None else _group(agent, group_id)
        if group is not None and group.owner_id != reply.owner_id:
            raise ChatError("invalid", _("The group belongs to another scope."))
        reply.group = group
    reply.save()
    return reply


@transaction.atomic
def canned_reply_delete(*, agent: User, reply_id: Any) -> None:
    reply = _reply(agent, reply_id)
    _may_edit(agent, reply)
    reply.delete()


@transaction.atomic
def canned_replies_reorder(*, agent: User, reply_ids: Any) -> None:
    """Positions 0, 1, ... in the order given; every id must be one the agent may edit."""
    if not isinstance(reply_ids, list) or len(reply_ids) > CANNED_MAX:
        raise ChatError("invalid", _("A list of ids is expected."))
    for position, reply_id in enumerate(reply_ids):
        reply = _reply(agent, reply_id)
        _may_edit(agent, reply)
        if reply.position != position:
            CannedReply.objects.filter(pk=reply.pk).update(position=position)


def _rule(agent: User, rule_id: Any) -> KeywordRule:
    require(agent, MANAGE_SETTINGS)
    if (pk := row_id(rule_id)) is not None:
        rule = KeywordRule.objects.filter(pk=pk, enterprise_id=_enterprise_id(agent)).first()
        if rule is not None:
            return rule
    raise not_found(_("Keyword rule"))


def _match(value: Any) -> str:
    if value not in KeywordRule.Match.values:
        raise ChatError("invalid", _("Match must be “exact” or “contains”."))
    return str(value)


def _bool(value: Any, *, what: str) -> bool:
    if not isinstance(value, bool):
        raise ChatError("invalid", _("%(what)s must be true or false.") % {"what": what})
    return value


@transaction.atomic
def keyword_rule_create(
    *, agent: User, keyword: Any, reply: Any, match: Any = "contains", priority: Any = 0, enabled: Any = True
) -> KeywordRule:
    require(agent, MANAGE_SETTINGS)
    ent = _enterprise_id(agent)
    if KeywordRule.objects.filter(enterprise_id=ent).count() >= RULES_MAX:
        raise ChatError("too_many", _("Too many keyword rules."))
    rule = KeywordRule.objects.create(
        enterprise_id=ent,
        keyword=_text(keyword, what=_("Keyword"), limit=KEYWORD_MAX),
        reply=_text(reply, what=_("Reply"), limit=TEXT_MAX),
        match=_match(match),
        priority=_int(priority, what=_("Priority")),
        enabled=_bool(enabled, what=_("Enabled")),
    )
    cache.bump(ent)
    return rule


@transaction.atomic
def keyword_rule_update(*, agent: User, rule_id: Any, **changes: Any) -> KeywordRule:
    rule = _rule(agent, rule_id)
    checks = {
        "keyword": lambda v: _text(v, what=_("Keyword"), limit=KEYWORD_MAX),
        "reply": lambda v: _text(v, what=_("Reply"), limit=TEXT_MAX),
        "match": _match,
        "priority": lambda v: _int(v, what=_("Priority")),
        "enabled": lambda v: _bool(v, what=_("Enabled")),
    }
    for name, value in changes.items():
        if name not in checks:
            raise ChatError("invalid", _("Unknown field: %(name)s") % {"name": name})
        setattr(rule, name, checks[name](value))
    rule.save()
    cache.bump(rule.enterprise_id)
    return rule


@transaction.atomic
def keyword_rule_delete(*, agent: User, rule_id: Any) -> None:
    rule = _rule(agent, rule_id)
    rule.delete()
    cache.bump(rule.enterprise_id)


def _welcome_content(value: Any) -> str:
    raw = _text(value, what=_("Welcome text"), limit=WELCOME_MAX)
    clean = sanitise(raw)
    if not plain(clean):
        raise ChatError("invalid", _("The welcome text is empty once unsafe markup is removed."))
    return clean


@transaction.atomic
def welcome_text_seed(*, enterprise: Enterprise, content: str, language: str = "") -> WelcomeText:
    """A new enterprise's first welcome text, written by the platform (`manage.py install`, tests): sanitised like
    the console's, without an agent's permission."""
    row = WelcomeText.objects.create(
        enterprise=enterprise,
        content=_welcome_content(content),
        language=_language(language),
        position=WelcomeText.objects.filter(enterprise=enterprise).count(),
    )
    cache.bump(enterprise.pk)
    return row


def _welcome(agent: User, welcome_id: Any) -> WelcomeText:
    require(agent, MANAGE_SETTINGS)
    if (pk := row_id(welcome_id)) is not None:
        row = WelcomeText.objects.filter(pk=pk, enterprise_id=_enterprise_id(agent)).first()
        if row is not None:
            return row
    raise not_found(_("Welcome text"))


@transaction.atomic
def _language(value: Any) -> str:
    """A welcome text's language: "" (every language) or a code of settings.LANGUAGES."""
    if value is None or value == "":
        return ""
    if isinstance(value, str) and value in dict(settings.LANGUAGES):
        return value
    codes = ", ".join(code for code, _name in settings.LANGUAGES)
    raise ChatError("invalid", _("Language must be empty (every language) or one of: %(codes)s.") % {"codes": codes})


def welcome_text_create(*, agent: User, content: Any, position: Any = None, language: Any = "") -> WelcomeText:
    require(agent, MANAGE_SETTINGS)
    ent = _enterprise_id(agent)
    count = WelcomeText.objects.filter(enterprise_id=ent).count()
    if count >= WELCOMES_MAX:
        raise ChatError("too_many", _("Too many welcome texts."))
    row = WelcomeText.objects.create(
        enterprise_id=ent,
        content=_welcome_content(content),
        language=_language(language),
        position=count if position is None else _int(position, what=_("Position")),
    )
    cache.bump(ent)
    return row


@transaction.atomic
def welcome_text_update(
    *, agent: User, welcome_id: Any, content: Any = None, position: Any = None, language: Any = None
) -> WelcomeText:
    row = _welcome(agent, welcome_id)
    if content is not None:
        row.content = _welcome_content(content)
    if language is not None:
        row.language = _language(language)
    if position is not None:
        row.position = _int(position, what=_("Position"))
    row.save()
    cache.bump(row.enterprise_id)
    return row


@transaction.atomic
def welcome_text_delete(*, agent: User, welcome_id: Any) -> None:
    row = _welcome(agent, welcome_id)
    row.delete()
    cache.bump(row.enterprise_id)
