"""The writes of the chat, by topic; each checks its caller, writes in one transaction and publishes its events
after the commit (chat.realtime.broadcast). Callers use `services.<name>`; the topics:

- visitors: visitor login (identity, find or create, refresh, token, a channel's ticket); a channel app's visitor
- merge: a web visitor's history moved to the channel visitor they turned out to be
- messages: the batch path of every message, a left message, read marks
- routing: opening conversations, routing them to an agent or the queue, offering the queue
- transfer: take, claim by replying, transfer to a colleague
- closing: close, reopen, adopt a late message, clear a visitor's history, the periodic desk chores
- agents: agents' status and presence, their limits, the enterprise's routing settings
- timeline: the visitor's open conversation, timeline lines, what a service call publishes
- hints: presence and typing, with nothing to store
"""

from .agents import (
    agent_limit_set,
    agent_presence_changed,
    agent_status_publish,
    agent_status_set,
    agents_serving,
    agents_serving_now,
    routing_settings,
    routing_settings_update,
)
from .closing import (
    conversation_adopt_late,
    conversation_close,
    conversation_close_by_visitor,
    conversation_reopen,
    conversations_close_blocked,
    conversations_close_idle,
    desk_chores,
    visitor_history_clear,
)
from .hints import (
    agent_typing,
    agents_online_announce,
    presence_expired,
    visitor_came_online,
    visitor_typing,
    visitors_went_offline,
)
from .merge import visitor_merge
from .messages import (
    Message,
    NewMessage,
    message_automatic_create,
    message_create,
    messages_create,
    messages_mark_read,
    messages_mark_read_by_visitor,
    offline_message_leave,
)
from .routing import conversations_open, queue_offer, queues_offer_all
from .timeline import conversation_cache, conversation_from_payload, conversation_of, conversation_remember
from .transfer import conversation_take, conversation_transfer, conversations_claim_by_reply
from .visitors import (
    EXTRA_CONTACT,
    VisitorLogin,
    channel_visitor_get_or_create,
    channel_visitor_profile_set,
    visitor_agent_prefer,
    visitor_extra_merge,
    visitor_login,
)

__all__ = [
    "EXTRA_CONTACT",
    "Message",
    "NewMessage",
    "VisitorLogin",
    "agent_limit_set",
    "agent_presence_changed",
    "agent_status_publish",
    "agent_status_set",
    "agent_typing",
    "agents_online_announce",
    "agents_serving",
    "agents_serving_now",
    "channel_visitor_get_or_create",
    "channel_visitor_profile_set",
    "conversation_adopt_late",
    "conversation_cache",
    "conversation_close",
    "conversation_close_by_visitor",
    "conversation_from_payload",
    "conversation_of",
    "conversation_remember",
    "conversation_reopen",
    "conversation_take",
    "conversation_transfer",
    "conversations_claim_by_reply",
    "conversations_close_blocked",
    "conversations_close_idle",
    "conversations_open",
    "desk_chores",
    "message_automatic_create",
    "message_create",
    "messages_create",
    "messages_mark_read",
    "messages_mark_read_by_visitor",
    "offline_message_leave",
    "presence_expired",
    "queue_offer",
    "queues_offer_all",
    "routing_settings",
    "routing_settings_update",
    "visitor_agent_prefer",
    "visitor_came_online",
    "visitor_extra_merge",
    "visitor_history_clear",
    "visitor_login",
    "visitor_merge",
    "visitor_typing",
    "visitors_went_offline",
]
