"""Each enterprise's keyword rules and welcome texts, cached in the process and checked against a version
token in the shared cache (Redis with REDIS_URL): every change bumps it after commit. The process that made
the change reloads at its next read; the others within RECHECK_SECONDS, since a process asks the shared
cache for an enterprise's token at most that often (one round trip for any number of enterprises), not
on every message batch and every visitor login (part of issue 9's cost: bench/README.md, finding 14)."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from django.core.cache import cache
from django.db import transaction

logger = logging.getLogger(__name__)
T = TypeVar("T")


RECHECK_SECONDS = 1.0  # how stale another process's change may be seen here
_seen: dict[int, tuple[float, str]] = {}  # enterprise -> (time.monotonic() when read, its token then)


def _key(enterprise_id: int) -> str:
    return f"replies:v:{enterprise_id}"


def versions(enterprise_ids: Iterable[int]) -> dict[int, str | None]:
    """The current token of each enterprise (None: the cache is unreachable, so trust nothing local); read
    from the shared cache only for those not read in the last RECHECK_SECONDS."""
    now = time.monotonic()
    answer: dict[int, str | None] = {}
    ids = []
    for ent in enterprise_ids:
        seen = _seen.get(ent)
        if seen is not None and now - seen[0] < RECHECK_SECONDS:
            answer[ent] = seen[1]
        else:
            ids.append(ent)
    if not ids:
        return answer
    try:
        found = cache.get_many([_key(ent) for ent in ids])
        for ent in ids:
            token = found.get(_key(ent))
            if token is None:  # never set, or evicted: a new token makes every process reload
                cache.add(_key(ent), uuid.uuid4().hex, None)
                token = cache.get(_key(ent))
            answer[ent] = token
            if token is not None:
                _seen[ent] = (now, token)
        return answer
    except Exception as exc:
        logger.warning("replies cache unavailable: %r", exc)
        return {**answer, **dict.fromkeys(ids)}


def bump(enterprise_id: int) -> None:
    """After the change commits, a new token: this process reloads at its next read, the others within
    RECHECK_SECONDS."""

    def run() -> None:
        token = uuid.uuid4().hex
        try:
            cache.set(_key(enterprise_id), token, None)
        except Exception as exc:
            # Without the shared cache the readers read the database (versions() answers None).
            logger.warning("replies cache unavailable, version not bumped: %r", exc)
            _seen.pop(enterprise_id, None)
            return
        _seen[enterprise_id] = (time.monotonic(), token)

    transaction.on_commit(run)


@dataclass
class Cached(Generic[T]):
    """One kind of per-enterprise data: `load` reads many enterprises' at once (one query)."""

    load: Callable[[list[int]], dict[int, T]]
    local: dict[int, tuple[str, T]] = field(default_factory=dict)
    loads: int = 0  # for tests: how many times the database was read

    def get_many(self, enterprise_ids: Iterable[int]) -> dict[int, T]:
        ids = set(enterprise_ids)
        if not ids:
            return {}
        tokens = versions(ids)
        answer: dict[int, T] = {}
        stale = []
        for ent in ids:
            held = self.local.get(ent)
            token = tokens[ent]
            if held is not None and token is not None and held[0] == token:
                answer[ent] = held[1]
            else:
                stale.append(ent)
        if stale:
            self.loads += 1
            loaded = self.load(sorted(stale))
            for ent in stale:
                answer[ent] = loaded[ent]
                token = tokens[ent]
                if token is not None:
                    self.local[ent] = (token, loaded[ent])
        return answer

    def get(self, enterprise_id: int) -> T:
        return self.get_many([enterprise_id])[enterprise_id]


_all: list[Cached[Any]] = []


def cached(load: Callable[[list[int]], dict[int, T]]) -> Cached[T]:
    item: Cached[T] = Cached(load)
    _all.append(item)
    return item


def reset() -> None:
    """Forget what this process holds (tests: a new database may reuse enterprise ids)."""
    _seen.clear()
    for item in _all:
        item.local.clear()
