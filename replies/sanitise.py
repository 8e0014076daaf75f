"""The only HTML replies accept (welcome texts): nh3 with an allow-list; everything else is dropped."""

from __future__ import annotations

import html
import re

import nh3
from django.utils.html import strip_tags

TAGS = {"p", "br", "b", "strong", "i", "em", "u", "a", "ul", "ol", "li"}
ATTRIBUTES = {"a": {"href"}}
REL = "noopener noreferrer nofollow"
_BREAKS = re.compile(r"<br\s*/?>|</p>|</li>", re.I)


def sanitise(value: str) -> str:
    """Allowed tags only, links to http(s) only with a forced rel; script/style are removed with their text."""
    return nh3.clean(
        value,
        tags=TAGS,
        attributes=ATTRIBUTES,
        url_schemes={"http", "https"},
        link_rel=REL,
        strip_comments=True,
    ).strip()


def plain(value: str) -> str:
    """The text of sanitised HTML, line breaks kept: for the launcher's bubble and for length checks."""
    text = html.unescape(strip_tags(_BREAKS.sub("\n", value or "")))
    return "\n".join(" ".join(line.split()) for line in text.splitlines()).strip()
