"""Visitor tokens and client IPs behind trusted proxies."""

from __future__ import annotations

import pytest

from chat.identity import visitor_token_issue, visitor_token_read
from core import clientip
from core.clientip import client_ip


@pytest.fixture(autouse=True)
def _proxies(settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1", "10.0.0.0/8"]
    clientip._trusted_networks.cache_clear()
    yield
    clientip._trusted_networks.cache_clear()


def test_a_direct_client_cannot_choose_its_ip_with_forwarding_headers():
    assert client_ip("198.51.100.1", "1.2.3.4", "5.6.7.8") == "198.51.100.1"


def test_a_trusted_proxy_passes_on_the_client_address():
    assert client_ip("127.0.0.1", "198.51.100.1") == "198.51.100.1"
    assert client_ip("127.0.0.1", None, "198.51.100.2") == "198.51.100.2"


def test_forwarded_for_is_read_from_the_right_skipping_trusted_hops():
    # The client prepended a fake hop; the proxies appended the real one.
    assert client_ip("127.0.0.1", "6.6.6.6, 198.51.100.1, 10.1.2.3") == "198.51.100.1"


def test_garbage_in_forwarding_headers_is_ignored():
    assert client_ip("127.0.0.1", "not-an-ip") == "127.0.0.1"
    assert client_ip("127.0.0.1", None, "<script>") == "127.0.0.1"
    assert client_ip(None) is None


def test_a_visitor_token_proves_its_claim_and_nothing_else():
    token = visitor_token_issue(visitor_pk=7, enterprise_id=3)
    claim = visitor_token_read(token)
    assert claim is not None and (claim.visitor_pk, claim.enterprise_id) == (7, 3)
    assert visitor_token_read(token.replace("eyJ2Ijo3", "eyJ2Ijo4")) is None
    assert visitor_token_read("") is None
    assert visitor_token_read(None) is None
    assert visitor_token_read("x" * 600) is None


def test_a_token_signed_with_another_secret_is_refused(settings):
    token = visitor_token_issue(visitor_pk=7, enterprise_id=3)
    settings.SECRET_KEY = "another-secret-key-entirely-different-000000"
    assert visitor_token_read(token) is None
