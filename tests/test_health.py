"""core.health.outage_of: an outage (one log line when it starts, one when it ends) told from a bug (a
traceback), with the exceptions mysqlclient, Django and redis-py really raise."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.db import DatabaseError, IntegrityError, OperationalError, connection, transaction
from django.db.transaction import TransactionManagementError
from django.db.utils import ConnectionHandler
from redis.backoff import NoBackoff
from redis.retry import Retry

from core import health
from core.batching import Batcher
from core.hooks import Hook

MySQLdb = pytest.importorskip("MySQLdb")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # nothing listens there once it is closed


@pytest.fixture
def unreachable_mysql(django_db_blocker: Any) -> Iterator[Any]:
    """A Django MySQL connection to a port nothing listens on: no server needed."""
    handler = ConnectionHandler(
        {
            "default": {
                "ENGINE": "django.db.backends.mysql",
                "HOST": "127.0.0.1",
                "PORT": str(closed_port()),
                "NAME": "gofly",
                "USER": "gofly",
                "OPTIONS": {"connect_timeout": 2},
            }
        }
    )
    wrapper = handler["default"]
    with django_db_blocker.unblock():  # not the test database: nothing to protect
        yield wrapper
        wrapper.close()


def failed_connect(wrapper: Any) -> OperationalError:
    with pytest.raises(OperationalError) as info:
        wrapper.ensure_connection()
    return info.value


def is_usable_after_failed_connect(wrapper: Any) -> AttributeError:
    """What escaped during the fault test's database cut, hundreds of times per node: code that asks
    `is_usable()` after an error, of a connection that never opened (chat.services._message_insert_one)."""
    try:
        wrapper.ensure_connection()
    except DatabaseError:
        try:
            wrapper.is_usable()  # MySQL's pings self.connection, None here
        except AttributeError as exc:
            return exc
    raise AssertionError("expected the AttributeError of is_usable() on a connection never opened")


def outage_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "core.health"]


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.exc_info]


# --- the database --------------------------------------------------------------------------------------


def test_a_connection_the_server_refuses_is_a_database_outage(unreachable_mysql):
    with pytest.raises(MySQLdb.OperationalError) as raw:
        MySQLdb.connect(host="127.0.0.1", port=closed_port(), user="gofly", connect_timeout=2)
    assert raw.value.args[0] in (2002, 2003)
    assert health.outage_of(raw.value) == health.DATABASE
    wrapped = failed_connect(unreachable_mysql)
    assert wrapped.args[0] in (2002, 2003)
    assert health.outage_of(wrapped) == health.DATABASE


def test_an_error_met_handling_a_lost_connection_is_the_outage_and_its_traceback_logged_once(unreachable_mysql, caplog):
    caplog.set_level(logging.INFO)
    surfaced = is_usable_after_failed_connect(unreachable_mysql)
    assert health.outage_of(surfaced) == health.DATABASE
    for _ in range(50):
        health.failed(health.component_of(surfaced), is_usable_after_failed_connect(unreachable_mysql))
    lines = [r.getMessage() for r in outage_records(caplog)]
    # The outage line names the connection error, not what it surfaced as; the bug's traceback comes once.
    assert lines[0].startswith("database unreachable: OperationalError: (200")
    assert len(lines) == 2 and "AttributeError" in lines[1] and "a bug" in lines[1]
    assert len(tracebacks(caplog)) == 1
    health.recovered(health.DATABASE)
    health.failed(health.DATABASE, is_usable_after_failed_connect(unreachable_mysql))
    assert len(tracebacks(caplog)) == 1  # once per process, not per outage


def test_a_plain_bug_is_no_outage():
    for exc in (AttributeError("'NoneType' object has no attribute 'id'"), KeyError("x"), ValueError("bad")):
        assert health.outage_of(exc) is None
    try:
        try:
            raise KeyError("x")
        except KeyError:
            raise ValueError("while handling a bug") from None
    except ValueError as exc:
        assert health.outage_of(exc) is None


def test_a_codeless_database_error_is_an_outage_only_while_the_database_is_known_away(db):
    with transaction.atomic():
        with pytest.raises(DatabaseError), transaction.atomic(savepoint=False), connection.cursor() as cursor:
            cursor.execute("SELECT no_such_column FROM django_migrations")
        with pytest.raises(TransactionManagementError) as info, connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    assert health.outage_of(info.value) is None  # a bug: a query after a failed one in `atomic`
    health.failed(health.DATABASE, OperationalError(2013, "Lost connection to server during query"))
    assert health.outage_of(info.value) == health.DATABASE  # what follows from the lost connection
    health.recovered(health.DATABASE)
    assert health.outage_of(info.value) is None


@pytest.mark.django_db
def test_statements_a_reachable_server_refuses_are_bugs_even_during_an_outage():
    if connection.vendor != "mysql":
        pytest.skip("MariaDB's error codes")
    refused = []
    for sql in ("SELEC 1", "SELECT no_such_column FROM django_migrations"):  # 1064, 1054 (an OperationalError)
        with pytest.raises(DatabaseError) as info, transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
        refused.append(info.value)
    assert [exc.args[0] for exc in refused] == [1064, 1054]
    assert isinstance(refused[1], OperationalError)
    refused += [IntegrityError(1062, "Duplicate entry"), OperationalError(1213, "Deadlock found")]
    health.failed(health.DATABASE, OperationalError(2006, "Server has gone away"))
    assert [health.outage_of(exc) for exc in refused] == [None] * 4


@pytest.mark.django_db
def test_a_connection_the_server_kills_is_a_database_outage():
    if connection.vendor != "mysql":
        pytest.skip("a MariaDB connection to kill")
    conf = connection.settings_dict
    victim = MySQLdb.connect(
        host=conf["HOST"] or "127.0.0.1", port=int(conf["PORT"] or 3306), user=conf["USER"], password=conf["PASSWORD"]
    )
    with connection.cursor() as cursor:
        cursor.execute(f"KILL {victim.thread_id()}")
    errors = []
    for _ in range(2):
        with pytest.raises(MySQLdb.Error) as info:
            victim.cursor().execute("SELECT 1")
        errors.append(info.value)
    assert errors[0].args[0] in (1927, 2006, 2013) and errors[1].args[0] == 2006
    assert [health.outage_of(exc) for exc in errors] == [health.DATABASE] * 2
    victim.close()
    with pytest.raises(MySQLdb.Error) as closed:
        victim.cursor().execute("SELECT 1")
    assert health.outage_of(closed.value) == health.DATABASE  # InterfaceError / (2006, '')


# --- Redis and sockets ---------------------------------------------------------------------------------


def test_redis_away_is_an_outage_and_a_wrong_command_a_bug():
    client = redis.Redis(host="127.0.0.1", port=closed_port(), socket_connect_timeout=1, retry=Retry(NoBackoff(), 0))
    with pytest.raises(redis.exceptions.ConnectionError) as info:
        client.ping()
    assert health.outage_of(info.value) == health.REDIS
    for away in (redis.exceptions.TimeoutError("Timeout reading"), redis.exceptions.ReadOnlyError("READONLY")):
        assert health.outage_of(away) == health.REDIS
    for bug in (redis.exceptions.ResponseError("WRONGTYPE Operation"), redis.exceptions.DataError("bad type")):
        assert health.outage_of(bug) is None


def test_a_socket_error_is_an_outage_and_a_file_error_a_bug():
    for away in (ConnectionRefusedError(111, "refused"), ConnectionResetError(), TimeoutError()):
        assert health.outage_of(away) == health.REDIS
    assert health.outage_of(FileNotFoundError(2, "No such file")) is None
    assert health.outage_of(PermissionError(13, "Permission denied")) is None


# --- where it is used ----------------------------------------------------------------------------------


async def test_a_batch_meeting_the_outage_logs_one_line_and_a_bug_its_traceback(unreachable_mysql, caplog):
    caplog.set_level(logging.INFO)
    answers: list[Any] = []

    def batch_call(items: list[int]) -> list[Any]:
        return [answers.pop(0) for _ in items]

    batcher = Batcher[int, int]("test", batch_call)
    surfaced = await asyncio.to_thread(is_usable_after_failed_connect, unreachable_mysql)
    lost = OperationalError(2013, "Lost connection to server during query")
    answers += [lost, lost, 7]
    for _ in range(2):
        with pytest.raises(OperationalError):
            await batcher(1)
    # A batch that ran but answered an item with the outage is not the database back.
    assert [r.getMessage() for r in outage_records(caplog)] == ["database unreachable: " + health._describe(lost)]

    def raising(items: list[int]) -> list[Any]:
        raise surfaced

    batcher.batch_call = raising
    for _ in range(3):
        with pytest.raises(AttributeError):
            await batcher(1)
    assert len(tracebacks(caplog)) == 1  # the bug once, not a "batch failed" per batch
    batcher.batch_call = batch_call
    assert await batcher(1) == 7
    assert outage_records(caplog)[-1].getMessage().startswith("database reachable again")

    def buggy(items: list[int]) -> list[Any]:
        raise KeyError("a bug")

    batcher.batch_call = buggy
    with pytest.raises(KeyError):
        await batcher(1)
    assert "test: a batch of 1 failed" in caplog.text and len(tracebacks(caplog)) == 2


def test_a_hook_receiver_meeting_the_outage_logs_one_line_and_a_bug_its_traceback(unreachable_mysql, caplog):
    caplog.set_level(logging.INFO)
    hook: Hook[int, None] = Hook("test")

    @hook.connect
    def receiver(value: int) -> None:
        if value:
            raise OperationalError(1054, "Unknown column 'x' in 'field list'")  # the server answered: a bug
        raise is_usable_after_failed_connect(unreachable_mysql)

    for _ in range(3):
        hook.send(0)
    assert len(tracebacks(caplog)) == 1 and len(outage_records(caplog)) == 2
    hook.send(1)
    assert len(tracebacks(caplog)) == 2 and "receiver" in caplog.text
