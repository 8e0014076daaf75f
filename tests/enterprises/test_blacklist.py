"""IP blacklists: addresses and CIDR networks, matched whatever form the address arrives in, in one query."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test.utils import CaptureQueriesContext

from accounts.services import roles_ensure, superadmin_create
from blacklist.services import ip_block
from chat.selectors import SocketLookup, visitors_for_sockets
from core.errors import ChatError
from enterprises.models import IPBlacklist, ip_key
from enterprises.selectors import enterprise_for_visitor
from tests.conftest import AGENT_PASSWORD, address_block, login_visitor


def test_an_ipv4_mapped_ipv6_address_has_the_key_of_its_ipv4_address():
    assert ip_key("::ffff:7.7.7.7") == ip_key("7.7.7.7") == "00000000000000000000ffff07070707"
    assert ip_key("2001:db8::1") == "20010db8000000000000000000000001"
    assert ip_key("not an ip") is None and ip_key("") is None and ip_key(None) is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("entry", "ip", "blocked"),
    [
        ("7.7.7.7", "::ffff:7.7.7.7", True),
        ("::ffff:7.7.7.7", "7.7.7.7", True),
        ("7.7.7.7", "7.7.7.8", False),
        ("198.51.100.0/24", "198.51.100.77", True),
        ("198.51.100.0/24", "::ffff:198.51.100.255", True),
        ("198.51.100.0/24", "198.51.101.0", False),
        ("2001:db8::/32", "2001:db8:ffff::5", True),
        ("2001:db8::/32", "2001:db9::5", False),
        ("0.0.0.0/1", "2001:db8::5", False),  # half of IPv4 is not IPv6
    ],
)
def test_visitor_login_matches_addresses_and_networks_in_two_plain_queries(enterprise, entry, ip, blocked):
    address_block(enterprise=enterprise, ip=entry)
    with CaptureQueriesContext(connection) as queries:
        found, is_blocked = enterprise_for_visitor(enterprise.pk, ip)
    assert found == enterprise and is_blocked is blocked
    assert len(queries.captured_queries) == 2  # the enterprise, then the entries holding the address


@pytest.mark.django_db
def test_arriving_sockets_match_networks_and_mapped_addresses_in_one_query_per_batch(
    enterprise, agent, other_enterprise
):
    ours = login_visitor(enterprise, agent).visitor
    theirs = login_visitor(other_enterprise).visitor
    address_block(enterprise=enterprise, ip="198.51.100.0/24")
    address_block(enterprise=enterprise, ip="7.7.7.7")
    address_block(enterprise=other_enterprise, ip="2001:db8::/32")
    lookups = [
        SocketLookup(ours.pk, enterprise.pk, "198.51.100.9"),
        SocketLookup(ours.pk, enterprise.pk, "::ffff:7.7.7.7"),
        SocketLookup(ours.pk, enterprise.pk, "2001:db8::1"),  # another enterprise's entry
        SocketLookup(theirs.pk, other_enterprise.pk, "2001:db8::1"),
        SocketLookup(theirs.pk, other_enterprise.pk, "198.51.100.9"),
        SocketLookup(ours.pk, enterprise.pk, None),
    ]
    with CaptureQueriesContext(connection) as queries:
        results = visitors_for_sockets(lookups)
    assert len(queries.captured_queries) <= 4
    refused = [isinstance(r, ChatError) and r.code == "blacklisted" for r in results]
    assert refused == [True, True, False, True, False, False]
    blacklist_queries = [q for q in queries.captured_queries if "ipblacklist" in q["sql"].lower()]
    assert len(blacklist_queries) == 1


@pytest.mark.django_db
def test_the_same_network_written_two_ways_is_one_entry(enterprise, agent):
    one = ip_block(agent=agent, network="10.0.0.5/24")
    two = ip_block(agent=agent, network="10.0.0.0/24")
    assert one["id"] == two["id"] and one["what"] == "10.0.0.0/24"
    assert ip_block(agent=agent, network="7.7.7.7/32")["what"] == "7.7.7.7"
    assert IPBlacklist.objects.filter(enterprise=enterprise).count() == 2
    with pytest.raises(ChatError):
        ip_block(agent=agent, network="7.7.7.777")


@pytest.mark.django_db
def test_the_admin_accepts_an_address_or_a_network_and_explains_anything_else(client, enterprise):
    roles_ensure()
    superadmin_create(username="root", password=AGENT_PASSWORD)
    client.login(username="root", password=AGENT_PASSWORD)
    url = "/admin/enterprises/ipblacklist/add/"
    response = client.post(url, {"enterprise": enterprise.pk, "network": "evil; drop", "reason": ""})
    assert response.status_code == 200
    assert [e.code for e in response.context["adminform"].form.errors.as_data()["network"]] == ["invalid"]
    assert not IPBlacklist.objects.exists()
    response = client.post(url, {"enterprise": enterprise.pk, "network": "::ffff:203.0.113.9/120", "reason": "spam"})
    assert response.status_code == 302
    entry = IPBlacklist.objects.get()
    assert entry.start == ip_key("203.0.113.0") and entry.end == ip_key("203.0.113.255")
    response = client.post(url, {"enterprise": enterprise.pk, "network": "203.0.113.7/24", "reason": ""})
    assert response.status_code == 200  # the same network as the first: refused as a duplicate
    assert IPBlacklist.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_migration_turns_existing_addresses_into_matching_networks(enterprise):
    executor = MigrationExecutor(connection)
    executor.migrate([("enterprises", "0001_initial")])
    old_apps = executor.loader.project_state([("enterprises", "0001_initial")]).apps
    old_apps.get_model("enterprises", "IPBlacklist").objects.create(enterprise_id=enterprise.pk, ip="::ffff:7.7.7.7")
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    entry = IPBlacklist.objects.get()
    assert entry.start == entry.end == ip_key("7.7.7.7")
    assert enterprise_for_visitor(enterprise.pk, "7.7.7.7") == (enterprise, True)
