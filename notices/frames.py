"""The frames notices sends to agents' consoles (docs/protocol.md, section 5.18)."""

from __future__ import annotations

from typing import Any

from chat.frames import frame


def announcement_frame(payload: dict[str, Any]) -> dict[str, Any]:
    """To the agents of the enterprises an announcement is for: it was published or edited (the whole of it)."""
    return frame("announcement", {"announcement": payload})


def announcement_withdrawn_frame(announcement_id: int) -> dict[str, Any]:
    """To the same agents: an announcement was deleted; consoles drop it."""
    return frame("announcement.withdrawn", {"id": announcement_id})
