"""What agents keep about a visitor for their team: the remark name and the enterprise's tags.

Who may do what: any agent of the enterprise sets a remark name and puts a tag on (or takes it off) a
visitor; creating, renaming, recolouring and deleting the enterprise's tags needs MANAGE_SETTINGS
(enterprise admins). Every change is told to the enterprise's agents after commit; never to visitors.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.permissions import MANAGE_SETTINGS, require
from core.errors import ChatError, not_found
from core.savepoints import nested_savepoint

from . import frames
from .access import access_tag, access_visitor
from .models import Tag, Visitor, VisitorTag
from .realtime.broadcast import publish_on_commit

REMARK_MAX = 100
TAG_NAME_MAX = 30
TAGS_PER_ENTERPRISE = 200


def _text(value: Any, *, code: str, field: str, limit: int, allow_empty: bool) -> str:
    if not isinstance(value, str) or not value.isprintable():
        raise ChatError(code, _("%(field)s must be text on one line.") % {"field": field})
    value = value.strip()
    if not value and not allow_empty:
        raise ChatError(code, _("%(field)s must not be empty.") % {"field": field})
    if len(value) > limit:
        raise ChatError(code, _("%(field)s is limited to %(limit)d characters.") % {"field": field, "limit": limit})
    return value


def _agents(agent: User, frame_: dict[str, Any]) -> None:
    assert agent.enterprise_id is not None
    publish_on_commit([(frames.group_agents(agent.enterprise_id), frame_)])


def visitor_remark_set(*, agent: User, visitor_id: Any, real_name: Any) -> Visitor:
    """Give the visitor a remark name ("" clears it); the enterprise's agents hear `visitor.remark`."""
    real_name = _text(real_name, code="bad_real_name", field=_("The remark name"), limit=REMARK_MAX, allow_empty=True)
    with transaction.atomic():
        visitor = access_visitor(agent=agent, visitor_id=visitor_id)
        if visitor.real_name != real_name:
            visitor.real_name = real_name
            # Not save(): updated_at is the visitor's last visit, not the agents' edit.
            Visitor.objects.filter(pk=visitor.pk).update(real_name=real_name)
            _agents(agent, frames.visitor_remark_frame(visitor.visitor_id, real_name))
    return visitor


def _colour(value: Any) -> str:
    if not isinstance(value, str) or value not in Tag.COLOURS:
        raise ChatError(
            "bad_colour", _("The colour must be one of: %(colours)s.") % {"colours": ", ".join(Tag.COLOURS)}
        )
    return value


def _name_taken() -> ChatError:
    return ChatError("tag_exists", _("A tag with this name exists already."), 409)


def _tag_save(tag: Tag, *, insert: bool) -> None:
    try:
        with nested_savepoint():
            tag.save(force_insert=insert)
    except IntegrityError:
        raise _name_taken() from None


def tag_create(*, agent: User, name: Any, colour: Any = "blue") -> Tag:
    require(agent, MANAGE_SETTINGS)
    enterprise_id = agent.enterprise_id
    if enterprise_id is None:
        raise not_found(_("Enterprise"))
    name = _text(name, code="bad_name", field=_("The tag's name"), limit=TAG_NAME_MAX, allow_empty=False)
    colour = _colour(colour)
    with transaction.atomic():
        if Tag.objects.filter(enterprise_id=enterprise_id).count() >= TAGS_PER_ENTERPRISE:
            raise ChatError("too_many", _("An enterprise has at most %(limit)d tags.") % {"limit": TAGS_PER_ENTERPRISE})
        if Tag.objects.filter(enterprise_id=enterprise_id, name__iexact=name).exists():
            raise _name_taken()
        tag = Tag(enterprise_id=enterprise_id, name=name, colour=colour)
        _tag_save(tag, insert=True)
        _agents(agent, frames.tag_saved_frame(frames.tag_payload(tag)))
    return tag


def tag_update(*, agent: User, tag_id: Any, name: Any = None, colour: Any = None) -> Tag:
    """Rename and/or recolour a tag (None: unchanged)."""
    require(agent, MANAGE_SETTINGS)
    with transaction.atomic():
        tag = access_tag(agent=agent, tag_id=tag_id, for_update=True)
        if name is not None:
            name = _text(name, code="bad_name", field=_("The tag's name"), limit=TAG_NAME_MAX, allow_empty=False)
            same = Tag.objects.filter(enterprise_id=tag.enterprise_id, name__iexact=name).exclude(pk=tag.pk)
            if same.exists():
                raise _name_taken()
            tag.name = name
        if colour is not None:
            tag.colour = _colour(colour)
        _tag_save(tag, insert=False)
        _agents(agent, frames.tag_saved_frame(frames.tag_payload(tag)))
    return tag


def tag_delete(*, agent: User, tag_id: Any) -> None:
    """Delete a tag, and with it from every visitor that carries it."""
    require(agent, MANAGE_SETTINGS)
    with transaction.atomic():
        tag = access_tag(agent=agent, tag_id=tag_id, for_update=True)
        pk = tag.pk
        tag.delete()
        _agents(agent, frames.tag_deleted_frame(pk))


def _visitor_tag_ids(visitor: Visitor) -> list[int]:
    return list(VisitorTag.objects.filter(visitor=visitor).order_by("pk").values_list("tag_id", flat=True))


def visitor_tag_add(*, agent: User, visitor_id: Any, tag_id: Any) -> list[int]:
    """Put the tag on the visitor (again: no change); the visitor's tag ids now."""
    with transaction.atomic():
        visitor = access_visitor(agent=agent, visitor_id=visitor_id)
        tag = access_tag(agent=agent, tag_id=tag_id)
        try:
            with nested_savepoint():
                VisitorTag.objects.create(enterprise_id=visitor.enterprise_id, visitor=visitor, tag=tag)
        except IntegrityError:
            return _visitor_tag_ids(visitor)
        ids = _visitor_tag_ids(visitor)
        _agents(agent, frames.visitor_tags_frame(visitor.visitor_id, ids))
    return ids


def visitor_tag_remove(*, agent: User, visitor_id: Any, tag_id: Any) -> list[int]:
    """Take the tag off the visitor (not on it: no change); the visitor's tag ids now."""
    with transaction.atomic():
        visitor = access_visitor(agent=agent, visitor_id=visitor_id)
        tag = access_tag(agent=agent, tag_id=tag_id)
        removed, _rows = VisitorTag.objects.filter(visitor=visitor, tag=tag).delete()
        ids = _visitor_tag_ids(visitor)
        if removed:
            _agents(agent, frames.visitor_tags_frame(visitor.visitor_id, ids))
    return ids


def visitor_tag_set_by_system(*, visitor: Visitor, name: str, on: bool, colour: str = "green") -> list[int]:
    """Put the enterprise's tag `name` on the visitor (`on`) or take it off, for an app rather than an agent
    (a channel tagging its followers); the tag is created on first use, unless the enterprise has its
    TAGS_PER_ENTERPRISE already (then nothing is put on). The visitor's tag ids now; the agents hear it."""
    enterprise_id = visitor.enterprise_id
    with transaction.atomic():
        tag = Tag.objects.filter(enterprise_id=enterprise_id, name__iexact=name).first()
        if tag is None and on and Tag.objects.filter(enterprise_id=enterprise_id).count() < TAGS_PER_ENTERPRISE:
            tag = Tag(enterprise_id=enterprise_id, name=name[:TAG_NAME_MAX], colour=_colour(colour))
            try:
                _tag_save(tag, insert=True)
            except ChatError:  # created at the same moment by another request
                tag = Tag.objects.filter(enterprise_id=enterprise_id, name__iexact=name).first()
            else:
                publish_on_commit(
                    [(frames.group_agents(enterprise_id), frames.tag_saved_frame(frames.tag_payload(tag)))]
                )
        if tag is None:
            return _visitor_tag_ids(visitor)
        if on:
            try:
                with nested_savepoint():
                    VisitorTag.objects.create(enterprise_id=enterprise_id, visitor=visitor, tag=tag)
                changed = True
            except IntegrityError:
                changed = False
        else:
            changed = VisitorTag.objects.filter(visitor=visitor, tag=tag).delete()[0] > 0
        ids = _visitor_tag_ids(visitor)
        if changed:
            publish_on_commit(
                [(frames.group_agents(enterprise_id), frames.visitor_tags_frame(visitor.visitor_id, ids))]
            )
    return ids


# --- reads ------------------------------------------------------------------------------------------


def tags_of_enterprise(*, enterprise_id: int) -> list[dict[str, Any]]:
    """The enterprise's tags by name; one query."""
    return [frames.tag_payload(tag) for tag in Tag.objects.filter(enterprise_id=enterprise_id).order_by("name", "pk")]


def tags_of_visitor(*, visitor: Visitor) -> list[int]:
    """The ids of the visitor's tags, in the order they were put on; one query."""
    return _visitor_tag_ids(visitor)
