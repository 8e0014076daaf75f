"""E-mail alerts to away agents, through a real SMTP server (aiosmtpd) the tests start on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from aiosmtpd.controller import Controller
from asgiref.sync import async_to_sync
from django.utils import timezone, translation

from accounts.models import User
from chat.models import Conversation, Message
from chat.realtime.presence import AGENT, Presence, get_presence
from chat.services import message_create
from notices import alerts
from notices.alerts import alerts_sweep
from notices.models import AgentAlerts
from notices.services import alerts_settings_set
from tests.conftest import login_visitor
from tests.servers import ROOT, database_url, free_port

pytestmark = pytest.mark.django_db


class Inbox:
    """What the SMTP server accepted, parsed."""

    def __init__(self) -> None:
        self.mails: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd names it)
        mail = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(mail, EmailMessage)
        self.mails.append(mail)
        return "250 OK"

    def bodies(self) -> list[str]:
        return [m.get_content() for m in self.mails]


def _start(handler: Inbox, port: int, **kwargs: Any) -> Controller:
    controller = Controller(handler, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    return controller


@pytest.fixture
def inbox(settings: Any) -> Iterator[Inbox]:
    handler = Inbox()
    port = free_port()
    controller = _start(handler, port)
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_TIMEOUT = 5
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    handler.port = port  # type: ignore[attr-defined]
    yield handler
    controller.stop()


def later(seconds: float = 10) -> dt.datetime:
    return timezone.now() + dt.timedelta(seconds=seconds)


def opt_in(agent: User, email: str = "alice@example.com", language: str = "en") -> None:
    alerts_settings_set(agent=agent, email=email, email_enabled=True, language=language)


_counter = iter(range(10**6))


def say(visitor: Any, text: str, sender: str = "visitor", agent: User | None = None) -> Message:
    message, _created = message_create(
        visitor=visitor, sender=sender, content=text, client_id=f"c{next(_counter)}", agent=agent
    )
    return message


def assign(visitor: Any, agent: User | None) -> None:
    status = Conversation.Status.OPEN if agent else Conversation.Status.WAITING
    Conversation.objects.filter(visitor=visitor).exclude(status=Conversation.Status.CLOSED).update(
        status=status, assignee=agent
    )


def test_an_away_agent_gets_one_digest_of_visitor_messages_in_their_conversations_and_the_queue(
    inbox: Inbox, enterprise: Any, agent: User, second_agent: User, other_enterprise: Any, other_agent: User
) -> None:
    opt_in(agent)
    mine = login_visitor(enterprise, agent, visitor_name="Mia").visitor
    queued = login_visitor(enterprise, None, visitor_name="Quinn").visitor
    theirs = login_visitor(enterprise, second_agent, visitor_name="Theo").visitor
    stranger = login_visitor(other_enterprise, other_agent, visitor_name="Stan").visitor
    say(stranger, "other enterprise")  # ids interleave across enterprises
    assign(stranger, None)  # in the other enterprise's queue: still not ours
    say(mine, "hello from mia")
    assign(mine, agent)
    say(mine, "img[/media/abc]")
    say(mine, "reply from alice", sender="agent", agent=agent)
    say(queued, "anyone there?")
    assign(queued, None)
    say(theirs, "for bob only")
    assign(theirs, second_agent)
    say(mine, "last from mia")
    say(mine, "internal: VIP customer", sender="note", agent=agent)  # an internal note: never mailed

    result = alerts_sweep(now=later())

    assert result.sent == 1
    assert len(inbox.mails) == 1
    mail = inbox.mails[0]
    assert mail["To"] == "alice@example.com"
    body = mail.get_content()
    assert "hello from mia" in body and "last from mia" in body and "[Image]" in body and "anyone there?" in body
    assert "Mia (new visitor)" in body and "in the queue" in body
    for absent in ("reply from alice", "internal: VIP customer", "for bob only", "other enterprise", "Theo", "Stan"):
        assert absent not in body
    assert "/console" in body
    assert "4 new messages from 2 visitors" in str(mail["Subject"])
    # Nothing new: nothing more, even after the window.
    assert alerts_sweep(now=later(3600)).sent == 0
    assert len(inbox.mails) == 1


def test_messages_within_the_window_make_one_digest_and_the_next_waits_for_it_to_pass(
    inbox: Inbox, enterprise: Any, agent: User
) -> None:
    opt_in(agent)
    visitor = login_visitor(enterprise, agent).visitor
    say(visitor, "first")
    say(visitor, "second")
    assert alerts_sweep(now=later()).sent == 1
    assert len(inbox.mails) == 1 and "first" in inbox.bodies()[0] and "second" in inbox.bodies()[0]
    say(visitor, "third")
    say(visitor, "fourth")
    assert alerts_sweep(now=later(60)).sent == 0  # within 5 minutes of the last digest
    assert alerts_sweep(now=later(120)).sent == 0
    assert len(inbox.mails) == 1
    assert alerts_sweep(now=later(6 * 60)).sent == 1
    assert len(inbox.mails) == 2
    body = inbox.bodies()[1]
    assert "third" in body and "fourth" in body and "first" not in body


def test_an_online_agent_gets_no_mail_and_later_digests_skip_what_they_saw(
    inbox: Inbox, enterprise: Any, agent: User
) -> None:
    opt_in(agent)
    visitor = login_visitor(enterprise, agent).visitor
    presence = Presence(enterprise.pk, AGENT, agent.pk, "agent-channel")
    async_to_sync(get_presence().join)(presence)
    say(visitor, "seen live")
    assert alerts_sweep(now=later()).sent == 0
    async_to_sync(get_presence().leave)(presence)
    say(visitor, "while away")
    assert alerts_sweep(now=later(20)).sent == 1
    assert "while away" in inbox.bodies()[0] and "seen live" not in inbox.bodies()[0]


def test_a_connected_agent_who_chose_away_is_mailed(inbox: Inbox, enterprise: Any, agent: User) -> None:
    opt_in(agent)
    User.objects.filter(pk=agent.pk).update(status="away")
    async_to_sync(get_presence().join)(Presence(enterprise.pk, AGENT, agent.pk, "agent-channel"))
    say(login_visitor(enterprise, agent).visitor, "are you there")
    assert alerts_sweep(now=later()).sent == 1


def test_an_agent_who_did_not_opt_in_or_opted_out_gets_nothing(
    inbox: Inbox, enterprise: Any, agent: User, second_agent: User
) -> None:
    opt_in(agent)
    alerts_settings_set(agent=agent, email_enabled=False)
    User.objects.filter(pk=second_agent.pk).update(email="bob@example.com")
    visitor = login_visitor(enterprise, None).visitor
    assign(visitor, None)
    say(visitor, "queue message")
    assert alerts_sweep(now=later()).sent == 0
    assert inbox.mails == []


def test_opting_in_starts_from_now(inbox: Inbox, enterprise: Any, agent: User) -> None:
    visitor = login_visitor(enterprise, agent).visitor
    say(visitor, "before opting in")
    opt_in(agent)
    say(visitor, "after opting in")
    alerts_sweep(now=later())
    assert "after opting in" in inbox.bodies()[0] and "before opting in" not in inbox.bodies()[0]


def test_without_an_smtp_host_nothing_is_sent(inbox: Inbox, settings: Any, enterprise: Any, agent: User) -> None:
    opt_in(agent)
    say(login_visitor(enterprise, agent).visitor, "hi")
    settings.EMAIL_HOST = ""
    assert alerts_sweep(now=later()).sent == 0
    assert inbox.mails == []


def test_the_digest_is_in_the_agents_language(inbox: Inbox, enterprise: Any, agent: User) -> None:
    opt_in(agent, language="zh-hans")
    say(login_visitor(enterprise, agent).visitor, "img[/media/x]")
    alerts_sweep(now=later())
    body = inbox.bodies()[0]
    assert "[图片]" in body and "控制台" in body


def test_the_smtp_server_down_is_retried_with_backoff_and_delivered_once_it_is_back(
    inbox: Inbox, settings: Any, enterprise: Any, agent: User, caplog: Any
) -> None:
    opt_in(agent)
    visitor = login_visitor(enterprise, agent).visitor
    say(visitor, "while the mail server is down")
    settings.EMAIL_PORT = free_port()  # nobody listens there
    assert alerts_sweep(now=later()).failed == 1
    assert alerts_sweep(now=later(70)).failed == 1  # one minute of backoff passed: retried
    assert alerts_sweep(now=later(80)).failed == 0  # now two minutes: not yet
    row = AgentAlerts.objects.get(agent=agent)
    assert row.failures == 2 and row.last_error
    assert sum("failed, will retry" in r.getMessage() for r in caplog.records) == 1  # logged once
    settings.EMAIL_PORT = inbox.port  # type: ignore[attr-defined]
    assert alerts_sweep(now=later(200)).sent == 1
    assert len(inbox.mails) == 1 and "while the mail server is down" in inbox.bodies()[0]
    assert alerts_sweep(now=later(2000)).sent == 0
    assert AgentAlerts.objects.get(agent=agent).failures == 0


class ProcessDied(BaseException):
    """Stands for a process killed at that line: nothing after it runs, no handler catches it."""


def test_a_crash_after_the_send_and_before_the_record_sends_the_digest_once_more_then_never(
    inbox: Inbox, enterprise: Any, agent: User
) -> None:
    opt_in(agent)
    say(login_visitor(enterprise, agent).visitor, "crash me")
    with mock.patch.object(alerts, "_sent_record", side_effect=ProcessDied), pytest.raises(ProcessDied):
        alerts_sweep(now=later())
    assert len(inbox.mails) == 1
    # The lease holds off the other processes meanwhile...
    assert alerts_sweep(now=later(30)).sent == 0
    # ...then the digest goes again (same Message-ID), and only once.
    assert alerts_sweep(now=later(10 + alerts.lease_length().total_seconds())).sent == 1
    assert alerts_sweep(now=later(3 * 3600)).sent == 0
    assert len(inbox.mails) == 2
    assert inbox.mails[0]["Message-ID"] == inbox.mails[1]["Message-ID"]


def test_a_crash_after_the_claim_and_before_the_send_loses_nothing(inbox: Inbox, enterprise: Any, agent: User) -> None:
    opt_in(agent)
    say(login_visitor(enterprise, agent).visitor, "claimed then lost")
    with mock.patch.object(alerts, "digest_send", side_effect=ProcessDied), pytest.raises(ProcessDied):
        alerts_sweep(now=later())
    assert inbox.mails == []
    assert alerts_sweep(now=later(10 + alerts.lease_length().total_seconds())).sent == 1
    assert "claimed then lost" in inbox.bodies()[0]


@translation.override("en")
def test_the_preview_words_uploads_and_products_as_the_console_does() -> None:
    assert alerts.preview_text("img[/media/abc]") == "[Image]"
    assert alerts.preview_text('attachment[{"name":"r\\u00e9sum\\u00e9.pdf","size":3}]') == "[File] résumé.pdf"
    assert alerts.preview_text('product[{"title":"Tea","price":"9"}]') == "[Product] Tea"
    assert alerts.preview_text("  two\n  lines ") == "two lines"
    assert len(alerts.preview_text("x" * 1000)) == alerts.PREVIEW_CHARS


# --- TLS -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: Any) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (the `cryptography` package, a dependency already)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def _server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(certificate[0]), str(certificate[1]))
    return context


@pytest.mark.parametrize("mode", ["starttls", "implicit"])
def test_digests_go_over_starttls_and_implicit_tls_with_the_certificate_verified(
    mode: str, settings: Any, monkeypatch: Any, certificate: tuple[Path, Path], enterprise: Any, agent: User
) -> None:
    handler = Inbox()
    port = free_port()
    context = _server_context(certificate)
    if mode == "starttls":
        controller = _start(handler, port, tls_context=context, require_starttls=True)
    else:
        controller = _start(handler, port, ssl_context=context)
    # The client verifies the server against the system's CAs; here the test's certificate is the CA.
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", port, 5
    settings.EMAIL_USE_TLS, settings.EMAIL_USE_SSL = mode == "starttls", mode == "implicit"
    try:
        opt_in(agent)
        say(login_visitor(enterprise, agent).visitor, f"over {mode}")
        assert alerts_sweep(now=later()).sent == 1
        assert f"over {mode}" in handler.bodies()[0]
        # Without the certificate trusted, nothing is sent (verification is on), and it is retried.
        monkeypatch.setenv("SSL_CERT_FILE", "/nonexistent")
        say(login_visitor(enterprise, agent, visitor_name="Una").visitor, "unverified")
        assert alerts_sweep(now=later(400)).failed == 1
        assert len(handler.mails) == 1
    finally:
        controller.stop()


def test_plain_smtp_to_a_server_that_requires_starttls_is_refused_and_retried(
    settings: Any, certificate: tuple[Path, Path], enterprise: Any, agent: User
) -> None:
    handler = Inbox()
    port = free_port()
    controller = _start(handler, port, tls_context=_server_context(certificate), require_starttls=True)
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", port, 5
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    try:
        opt_in(agent)
        say(login_visitor(enterprise, agent).visitor, "plain")
        assert alerts_sweep(now=later()).failed == 1
        assert handler.mails == []
    finally:
        controller.stop()


# --- a fresh process -------------------------------------------------------------------------------------


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_a_restart_between_the_message_and_the_mail_delivers_it_once_from_a_fresh_process(
    inbox: Inbox, enterprise: Any, agent: User
) -> None:
    try:
        url = database_url()
    except RuntimeError:
        pytest.skip("a second process needs a file database (run with DATABASE_URL)")
    opt_in(agent)
    say(login_visitor(enterprise, agent).visitor, "before the restart")
    time.sleep(alerts.SETTLE.total_seconds() + 0.5)  # the fresh process sweeps at its own "now"
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(inbox.port),  # type: ignore[attr-defined]
        "EMAIL_TIMEOUT": "5",
    }

    def send_alerts() -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", "send_alerts"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "sent 1" in send_alerts()
    assert "sent 0" in send_alerts()
    assert len(inbox.mails) == 1 and "before the restart" in inbox.bodies()[0]


@pytest.mark.django_db(transaction=True)
def test_the_server_processs_heartbeat_runs_the_sweep_in_a_thread_of_its_own(
    inbox: Inbox, settings: Any, enterprise: Any, agent: User
) -> None:
    from notices import runner

    opt_in(agent)
    say(login_visitor(enterprise, agent).visitor, "swept by the server")
    settings.GOFLY = {**settings.GOFLY, "ALERT_SWEEP_SECONDS": 0}

    async def beat() -> None:
        with mock.patch.object(alerts, "SETTLE", dt.timedelta(0)):
            runner.tick()
            assert runner._task is not None
            runner.tick()  # one sweep at a time per process: this one is not started
            await runner._task

    async_to_sync(beat)()
    assert len(inbox.mails) == 1 and "swept by the server" in inbox.bodies()[0]
