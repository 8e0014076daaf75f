"""Which shared services this process can reach now, told in one log line per outage, not one per frame.

Redis carries the channel layer, presence and rate limits. When it is away the chat degrades instead of
failing (docs/protocol.md section 7): messages are still stored and acknowledged, rate limits are counted
per process, new sockets are refused with 1013, and once the layer is back every socket that was open
while pushes could be lost is sent what it missed (chat/realtime/healing.py).

`outage_of(exc)` tells a service being away from a bug: code that catches broadly asks it, records an
outage with `failed` and logs a traceback for anything else.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import time
import traceback

from django.db import DatabaseError, InterfaceError, OperationalError
from redis import exceptions as redis_errors
from redis.exceptions import RedisError

try:
    import MySQLdb
except ImportError:  # pragma: no cover - mysqlclient is a requirement, but the embedded SQLite needs none
    _DRIVER_ERRORS: tuple[type[Exception], ...] = ()
    _DRIVER_INTERFACE_ERRORS: tuple[type[Exception], ...] = ()
else:
    _DRIVER_ERRORS = (MySQLdb.Error,)
    _DRIVER_INTERFACE_ERRORS = (MySQLdb.InterfaceError,)
# Django's, and the driver's where code uses its connection directly.
_DATABASE_ERRORS: tuple[type[Exception], ...] = (DatabaseError, *_DRIVER_ERRORS)

logger = logging.getLogger("core.health")

REDIS = "redis"
DATABASE = "database"
LAYER = "channel layer"

# What a service being away may raise: the types code catches to answer "unavailable" (or server_error
# for a frame). Broad on purpose; `outage_of` says which instances are an outage and which are bugs.
INFRASTRUCTURE_ERRORS: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    RedisError,
    OSError,
    asyncio.TimeoutError,
)

# MySQL / MariaDB error codes of a connection that failed or went away, not of a statement the server
# refused (mysqlclient raises OperationalError for both, e.g. 1054 unknown column, 1213 deadlock).
DATABASE_CONNECTION_CODES = frozenset(
    {
        1040,  # ER_CON_COUNT_ERROR: too many connections
        1053,  # ER_SERVER_SHUTDOWN: server shutdown in progress
        1158,  # ER_NET_READ_ERROR
        1159,  # ER_NET_READ_INTERRUPTED
        1160,  # ER_NET_ERROR_ON_WRITE
        1161,  # ER_NET_WRITE_INTERRUPTED
        1927,  # ER_CONNECTION_KILLED (MariaDB)
        2002,  # CR_CONNECTION_ERROR: can't connect (refused, socket)
        2003,  # CR_CONN_HOST_ERROR: can't connect to the host
        2005,  # CR_UNKNOWN_HOST
        2006,  # CR_SERVER_GONE_ERROR: server has gone away
        2013,  # CR_SERVER_LOST: lost connection during query
        2055,  # CR_SERVER_LOST_EXTENDED: lost connection, system error
        4031,  # ER_CLIENT_INTERACTION_TIMEOUT (MySQL 8): disconnected for inactivity
    }
)
# What SQLite says when its file cannot be used right now (not "no such table": a bug).
_SQLITE_UNAVAILABLE = ("database is locked", "unable to open database", "disk i/o error", "database or disk is full")
# Redis answers that are the server's state (loading, failing over, full), not a wrong command.
_REDIS_UNAVAILABLE: tuple[type[Exception], ...] = (
    redis_errors.ConnectionError,  # also BusyLoadingError, AuthenticationError, MaxConnectionsError
    redis_errors.TimeoutError,
    redis_errors.InvalidResponse,  # a stream cut mid-reply
    redis_errors.ReadOnlyError,
    redis_errors.ClusterError,  # ClusterDownError, MasterDownError
    redis_errors.TryAgainError,
    redis_errors.OutOfMemoryError,
)
_NETWORK_ERRNOS = frozenset(
    {
        errno.ECONNREFUSED,
        errno.ECONNRESET,
        errno.ECONNABORTED,
        errno.EPIPE,
        errno.ETIMEDOUT,
        errno.EHOSTUNREACH,
        errno.EHOSTDOWN,
        errno.ENETUNREACH,
        errno.ENETDOWN,
        errno.ENETRESET,
        errno.ENOTCONN,
        errno.ESHUTDOWN,
        errno.EADDRNOTAVAIL,
    }
)

_down: dict[str, float] = {}  # component -> when this process first saw it fail
_bugs_seen: set[tuple[str, str, int]] = set()  # where an error surfaced from an outage was logged, once each


def outage_of(exc: BaseException) -> str | None:
    """The component (DATABASE or REDIS) whose being away `exc` is, or None: a bug, log its traceback.

    Looks at `exc` and what it was raised from or while handling (an error met cleaning up after a lost
    connection is the outage too). A database error is an outage when it says the connection failed (an
    InterfaceError, a connection error code), or when it comes while this process knows the database is
    away (TransactionManagementError after a failed query in `atomic`, ...). Redis and socket errors count
    when they are about the connection, not about the command.
    """
    found = _outage(exc)
    return None if found is None else found[0]


def component_of(exc: BaseException) -> str:
    """The component `exc` is about: its outage, else a guess by its type (for callers that already
    decided it is one)."""
    component = outage_of(exc)
    if component is not None:
        return component
    return DATABASE if isinstance(exc, _DATABASE_ERRORS) else REDIS


def failed(component: str, exc: BaseException | None = None) -> None:
    """Record a failure to use `component`; the first of an outage is logged, the rest are counted silently.

    An error that is not the outage itself but came from one (an AttributeError of code that cleaned up
    after a lost connection) is a bug all the same: its traceback is logged once per process and place.
    """
    found = None if exc is None else _outage(exc)
    if component not in _down:
        _down[component] = time.monotonic()
        logger.error("%s unreachable: %s", component, _describe(exc if found is None else found[1]))
    if found is not None and found[1] is not exc and exc is not None:
        _bug_once(component, exc)


def recovered(component: str) -> None:
    """Record a success; logs the end of an outage once."""
    started = _down.pop(component, None)
    if started is not None:
        logger.warning("%s reachable again after %.1f s", component, time.monotonic() - started)


def _outage(exc: BaseException) -> tuple[str, BaseException] | None:
    """The outage `exc` is or comes from, and the error in its chain that says so."""
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen and len(seen) < 16:
        seen.add(id(link))
        component = _outage_itself(link)
        if component is not None:
            return component, link
        link = link.__cause__ or (None if link.__suppress_context__ else link.__context__)
    return None


def _outage_itself(exc: BaseException) -> str | None:
    if isinstance(exc, _DATABASE_ERRORS):
        return DATABASE if _database_gone(exc) else None
    if isinstance(exc, RedisError):
        return REDIS if isinstance(exc, _REDIS_UNAVAILABLE) else None
    if isinstance(exc, ConnectionError | TimeoutError | socket.gaierror):  # TimeoutError: asyncio's too
        return REDIS  # the database driver wraps its socket errors; these are Redis' (or the layer's)
    if isinstance(exc, OSError) and exc.errno in _NETWORK_ERRNOS:
        return REDIS
    return None


def _database_gone(exc: BaseException) -> bool:
    if isinstance(exc, (InterfaceError, *_DRIVER_INTERFACE_ERRORS)):
        return True  # a connection closed or never opened
    code = exc.args[0] if exc.args else None
    if isinstance(code, int):
        # The server's or the client library's code: any other is a statement refused by a server that
        # answered (1054 unknown column, 1062 duplicate, 1213 deadlock) or a misuse (2014 out of sync).
        return code in DATABASE_CONNECTION_CODES
    if isinstance(exc, OperationalError) and isinstance(code, str):  # SQLite's: a message, no code
        return any(part in code.lower() for part in _SQLITE_UNAVAILABLE)
    # No code: Django's own (TransactionManagementError after a failed query in `atomic`, ...). An outage
    # while this process knows the database is away.
    return DATABASE in _down


def _bug_once(component: str, exc: BaseException) -> None:
    frames = traceback.extract_tb(exc.__traceback__)
    where = (type(exc).__name__, frames[-1].filename, frames[-1].lineno or 0) if frames else (type(exc).__name__, "", 0)
    if where in _bugs_seen:
        return
    _bugs_seen.add(where)
    logger.error("%s while the %s was away (a bug; logged once per process)", _describe(exc), component, exc_info=exc)


def _describe(exc: BaseException | None) -> str:
    if exc is None:
        return "no answer"
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


def reset() -> None:
    """Tests: forget every outage."""
    _down.clear()
    _bugs_seen.clear()
