"""Roles are Django groups: what each default role may do, how code asks, and how old roles moved over."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from accounts.models import RoleGroup, User
from accounts.permissions import (
    BLOCK,
    CLEAR_HISTORY,
    CLOSE,
    MANAGE_AGENTS,
    MANAGE_SETTINGS,
    PERMISSIONS,
    ROLE_AGENT,
    ROLE_ENTERPRISE_ADMIN,
    TAKE,
    TRANSFER,
    permissions_of,
    require,
)
from accounts.selectors import agent_payload
from accounts.services import agent_create, roles_ensure, superadmin_create
from core.errors import ChatError
from enterprises.services import enterprise_create
from tests.conftest import AGENT_PASSWORD

pytestmark = pytest.mark.django_db

EVERYTHING = ["take", "transfer", "close", "clear_history", "block", "manage_agents", "manage_settings"]


def fresh(user: User) -> User:
    """The user as a new request loads them: nothing cached on the object."""
    return User.objects.get(pk=user.pk)


def test_the_short_names_are_those_the_console_knows():
    assert list(PERMISSIONS) == EVERYTHING
    assert list(PERMISSIONS.values()) == [TAKE, TRANSFER, CLOSE, CLEAR_HISTORY, BLOCK, MANAGE_AGENTS, MANAGE_SETTINGS]


def test_an_agent_may_take_transfer_and_close_but_not_clear_history_or_manage_the_enterprise(agent):
    agent = fresh(agent)
    assert permissions_of(agent) == ["take", "transfer", "close", "block"]
    assert agent.has_perm(TAKE) and agent.has_perm(TRANSFER) and agent.has_perm(CLOSE)
    assert not any(agent.has_perm(perm) for perm in (CLEAR_HISTORY, MANAGE_AGENTS, MANAGE_SETTINGS))


def test_an_enterprise_admin_holds_every_permission(enterprise):
    admin = agent_create(enterprise=enterprise, username="boss", password=AGENT_PASSWORD, role=ROLE_ENTERPRISE_ADMIN)
    assert permissions_of(fresh(admin)) == EVERYTHING


def test_a_user_in_no_group_holds_no_permission(enterprise):
    user = User.objects.create_user(username="nobody", password=AGENT_PASSWORD, enterprise=enterprise)
    assert permissions_of(user) == []


def test_a_superadmin_holds_every_permission_without_a_group(db):
    root = superadmin_create(username="root", password=AGENT_PASSWORD)
    assert not root.groups.exists()
    assert permissions_of(root) == EVERYTHING


def test_a_deactivated_agent_holds_no_permission(agent):
    agent.is_active = False
    agent.save()
    assert permissions_of(fresh(agent)) == []


def test_require_refuses_a_missing_permission_with_a_403_forbidden(agent):
    with pytest.raises(ChatError) as refused:
        require(fresh(agent), CLEAR_HISTORY)
    assert (refused.value.code, refused.value.status) == ("forbidden", 403)
    assert refused.value.message


def test_require_lets_a_held_permission_pass(agent):
    require(fresh(agent), TAKE)


def test_require_rejects_a_permission_this_module_does_not_name(agent):
    with pytest.raises(ValueError, match="unknown permission"):
        require(fresh(agent), "chat.take_conversations")


def test_permissions_of_asks_the_database_once_per_user_object(agent, django_assert_num_queries):
    agent = fresh(agent)
    with django_assert_num_queries(2):
        permissions_of(agent)
    with django_assert_num_queries(0):
        assert permissions_of(agent) == ["take", "transfer", "close", "block"]
        require(agent, TAKE)


def test_the_default_roles_exist_after_migrate_without_asking(db):
    roles = {role.slug: role.group for role in RoleGroup.objects.select_related("group")}
    assert roles.keys() == {ROLE_ENTERPRISE_ADMIN, ROLE_AGENT}
    assert roles[ROLE_AGENT].name == "客服 Agent"
    assert roles[ROLE_AGENT].permissions.count() == 4
    assert roles[ROLE_ENTERPRISE_ADMIN].permissions.count() == 7


def test_roles_ensure_can_run_again_and_keeps_a_permission_added_by_hand(db):
    groups = roles_ensure()
    extra = Permission.objects.get(codename="view_visitor")
    groups[ROLE_AGENT].permissions.add(extra)
    again = roles_ensure()
    assert again[ROLE_AGENT].pk == groups[ROLE_AGENT].pk
    assert RoleGroup.objects.count() == 2
    assert set(again[ROLE_AGENT].permissions.values_list("codename", flat=True)) == {
        "take_conversation",
        "transfer_conversation",
        "close_conversation",
        "block_visitors",
        "view_visitor",
    }


def test_roles_ensure_gives_back_a_default_permission_taken_away(db):
    agent_group = roles_ensure()[ROLE_AGENT]
    agent_group.permissions.clear()
    roles_ensure()
    assert agent_group.permissions.count() == 4


@pytest.mark.django_db(transaction=True)
def test_the_default_roles_come_back_after_a_flush():
    call_command("flush", interactive=False, verbosity=0)
    assert RoleGroup.objects.get(slug=ROLE_ENTERPRISE_ADMIN).group.permissions.count() == 7


def test_an_agent_cannot_be_put_in_a_custom_role_of_another_enterprise(enterprise, other_enterprise):
    group = roles_ensure()[ROLE_AGENT]
    group.pk = None
    group.name = f"{other_enterprise.pk} Supervisor"
    group.save()
    RoleGroup.objects.create(group=group, slug=f"{other_enterprise.pk}-supervisor", enterprise=other_enterprise)
    with pytest.raises(ChatError) as refused:  # answered like a role that does not exist
        agent_create(
            enterprise=enterprise, username="x", password=AGENT_PASSWORD, role=f"{other_enterprise.pk}-supervisor"
        )
    assert refused.value.code == "not_found"
    assert not User.objects.filter(username="x").exists()
    own = agent_create(
        enterprise=other_enterprise, username="y", password=AGENT_PASSWORD, role=f"{other_enterprise.pk}-supervisor"
    )
    assert own.groups.get() == group


def test_the_agent_payload_says_the_role_and_what_the_console_may_offer(agent, enterprise):
    payload = agent_payload(fresh(agent))
    assert (payload["role"], payload["permissions"]) == ("agent", ["take", "transfer", "close", "block"])
    admin = agent_create(enterprise=enterprise, username="boss", password=AGENT_PASSWORD, role=ROLE_ENTERPRISE_ADMIN)
    admin.groups.add(RoleGroup.objects.get(slug=ROLE_AGENT).group)
    payload = agent_payload(fresh(admin))
    assert (payload["role"], payload["permissions"]) == ("enterprise_admin", EVERYTHING)


@pytest.mark.django_db(transaction=True)
def test_the_migration_puts_each_user_of_a_role_in_its_group_and_a_superadmin_in_none():
    before, after = [("accounts", "0005_rolegroup")], [("accounts", "0007_delete_role")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        old = executor.loader.project_state(before).apps
        role = old.get_model("accounts", "Role")
        old_user = old.get_model("accounts", "User")
        enterprise = enterprise_create(name="Old Co")
        roles = {
            slug: role.objects.get_or_create(slug=slug, defaults={"name": slug})[0]
            for slug in ("superadmin", "enterprise_admin", "agent")
        }
        old_user.objects.create(username="root", is_superuser=True, role=roles["superadmin"])
        old_user.objects.create(username="boss", enterprise_id=enterprise.pk, role=roles["enterprise_admin"])
        old_user.objects.create(username="kefu", enterprise_id=enterprise.pk, role=roles["agent"])
        old_user.objects.create(username="plain", enterprise_id=enterprise.pk)
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
    assert after[0] in MigrationExecutor(connection).loader.applied_migrations
    slugs = {user.username: list(user.groups.values_list("role__slug", flat=True)) for user in User.objects.all()}
    assert slugs == {"root": [], "boss": ["enterprise_admin"], "kefu": ["agent"], "plain": []}
    assert User.objects.get(username="root").is_superuser
    assert permissions_of(User.objects.get(username="boss")) == EVERYTHING
