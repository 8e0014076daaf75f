"""What chat announces, for the apps above it to react to (core.hooks): replies answers keywords and adds
the welcome texts to a login, notices mails away agents, a channel such as WeChat forwards what agents send.

Receivers connect in their AppConfig.ready; chat never imports them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.hooks import AsyncHook, Hook

if TYPE_CHECKING:
    from django.http import HttpRequest

    from enterprises.models import Enterprise

    from .models import Message, Visitor

messages_stored: Hook[list[Message], list[Message]] = Hook("chat.messages_stored")
"""A batch's new messages, inserted in its transaction (not yet committed). A receiver may answer with unsaved
messages (agent messages to the same visitors) to store and announce right after them: keyword auto-replies.
It runs in the message path: it must not query per message. The answers, once stored, are sent to the hook
too (what receivers answer to them is not stored), so that a channel sees every new message in its transaction."""

messages_committed: Hook[list[Message], None] = Hook("chat.messages_committed")
"""A batch's new messages, after their transaction committed (a channel forwards them; a note is among them:
`chat.audience.visitor_may_see` says which the visitor may see)."""


@dataclass(frozen=True)
class VisitorLoggedIn:
    visitor: Visitor
    enterprise: Enterprise
    created: bool
    language: str  # the page's (settings.LANGUAGES code): which of the welcome texts to give


@dataclass(frozen=True)
class WelcomeAsked:
    enterprise: Enterprise
    language: str  # the reader's (settings.LANGUAGES code)


visitor_logged_in: Hook[VisitorLoggedIn, dict[str, Any]] = Hook("chat.visitor_logged_in")
"""A visitor logged in (HTTP). A receiver may answer with fields for the `enterprise` part of the login
answer (docs/protocol.md): replies gives the welcome texts (`welcomes`, and the first as `welcome`)."""

enterprise_welcome: Hook[WelcomeAsked, str] = Hook("chat.enterprise_welcome")
"""The enterprise's welcome for answers that carry one text (`welcome` of the visitor's `ready` frame and of the
widget API, for older pages), in the reader's language: replies answers with the first of its welcome texts
for that language, sanitised HTML ("" for none). Called from sync code: a receiver may read the database."""


def welcome_of(enterprise: Enterprise, language: str) -> str:
    """The first non-empty answer of `enterprise_welcome`; "" without one. Sync: it may read the database."""
    return next((answer for answer in enterprise_welcome.send(WelcomeAsked(enterprise, language)) if answer), "")


presence_gone: AsyncHook[list[tuple[int, str, int]]] = AsyncHook("chat.presence_gone")
"""(enterprise id, "v" or "a", pk) of the visitors and agents whose every process stopped beating, found by
this process's heartbeat (chat.realtime.heartbeat): chat tells their enterprise."""

periodic_chore: AsyncHook[None] = AsyncHook("chat.periodic_chore")
"""Every heartbeat of a server process with open sockets (GOFLY_HEARTBEAT seconds), from its event loop,
receivers one after the other: chat closes idle conversations and offers the queue (once a minute), notices
starts its e-mail alert sweep in a thread of its own. A receiver keeps its own pace and must not block."""


@dataclass(frozen=True)
class VisitorPageOpened:
    request: HttpRequest
    enterprise: Enterprise


visitor_page_opened: Hook[VisitorPageOpened, str | None] = Hook("chat.visitor_page_opened")
"""The visitor page (chatIndex) was opened inside WeChat's browser (its User-Agent says "MicroMessenger") and carries
no `ticket`: a receiver may answer with a path of this site to redirect to first (wechat: its web authorisation,
which comes back to chatIndex with a ticket, chat.identity.visitor_ticket_issue). Asked only in WeChat's browser:
any other page pays a substring check. Sync: a receiver may read the database."""
