"""The one savepoint rule of the chat's writes."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

from django.db import transaction


def nested_savepoint() -> Any:
    """A savepoint inside a caller's transaction, so that a refused INSERT does not spoil it; outside one
    nothing: a single statement is atomic by itself, and atomic() would cost three more round trips."""
    return transaction.atomic() if transaction.get_connection().in_atomic_block else nullcontext()
