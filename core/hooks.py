"""Hooks: a lower app announces what happened, and the apps above it react without being imported by it.

A hook is declared once, in the module of the app that announces it (chat/hooks.py, accounts/hooks.py),
with the type of what it carries; the reacting apps connect their receivers in AppConfig.ready. A receiver
that fails is logged and skipped: the others still run, and what triggered the hook (a stored message, a
login) goes on as if the receiver were not there.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from django.db import transaction

from . import health

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


class Hook(Generic[T, R]):
    """Receivers take what the hook carries (T) and may answer (R); `send` gathers the answers."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._receivers: list[Callable[[T], R]] = []

    def __repr__(self) -> str:
        return f"<Hook {self.name}: {len(self._receivers)} receivers>"

    def connect(self, receiver: Callable[[T], R]) -> Callable[[T], R]:
        """Add `receiver` (once, however often it is connected); usable as a decorator."""
        if receiver not in self._receivers:
            self._receivers.append(receiver)
        return receiver

    def disconnect(self, receiver: Callable[[T], R]) -> None:
        if receiver in self._receivers:
            self._receivers.remove(receiver)

    def __bool__(self) -> bool:
        return bool(self._receivers)

    def send(self, value: T) -> list[R]:
        """Call every receiver with `value`, in the order they connected; the answers of those that did not
        fail."""
        answers: list[R] = []
        for receiver in list(self._receivers):
            try:
                answers.append(receiver(value))
            except Exception as exc:
                if (component := health.outage_of(exc)) is not None:  # an outage: one line, not one per call
                    health.failed(component, exc)
                else:
                    logger.exception("hook %s: receiver %s failed; skipped", self.name, _name(receiver))
        return answers

    def send_on_commit(self, value: T) -> None:
        """`send` once the current transaction commits (at once outside one); nothing if it rolls back."""
        if self._receivers:
            transaction.on_commit(lambda: self.send(value))


class AsyncHook(Generic[T]):
    """A hook whose receivers are coroutines, awaited one after the other from the event loop."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._receivers: list[Callable[[T], Awaitable[None]]] = []

    def __repr__(self) -> str:
        return f"<AsyncHook {self.name}: {len(self._receivers)} receivers>"

    def connect(self, receiver: Callable[[T], Awaitable[None]]) -> Callable[[T], Awaitable[None]]:
        if receiver not in self._receivers:
            self._receivers.append(receiver)
        return receiver

    def disconnect(self, receiver: Callable[[T], Awaitable[None]]) -> None:
        if receiver in self._receivers:
            self._receivers.remove(receiver)

    async def send(self, value: T) -> None:
        for receiver in list(self._receivers):
            try:
                await receiver(value)
            except Exception as exc:
                if (component := health.outage_of(exc)) is not None:  # an outage: one line, not one per call
                    health.failed(component, exc)
                else:
                    logger.exception("hook %s: receiver %s failed; skipped", self.name, _name(receiver))


def _name(receiver: Callable[..., object]) -> str:
    return f"{getattr(receiver, '__module__', '?')}.{getattr(receiver, '__qualname__', repr(receiver))}"
