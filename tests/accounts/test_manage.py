"""The management area (/manage/): an enterprise admin's agents, roles and audit log, in their enterprise only."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import RoleGroup, User
from accounts.permissions import ROLE_ENTERPRISE_ADMIN, permissions_of
from accounts.services import agent_create, role_save, superadmin_create
from core.errors import ChatError
from enterprises.models import AuditAction, AuditEntry, Enterprise
from tests.conftest import AGENT_PASSWORD, said
from wechat.models import WechatDelivery, WechatFollower

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "Fresh-Pass-2031"


@pytest.fixture
def boss(enterprise: Enterprise, agent: User) -> User:
    return agent_create(enterprise=enterprise, username="boss", password=AGENT_PASSWORD, role=ROLE_ENTERPRISE_ADMIN)


@pytest.fixture
def other_boss(other_enterprise: Enterprise, other_agent: User) -> User:
    return agent_create(
        enterprise=other_enterprise, username="globexboss", password=AGENT_PASSWORD, role=ROLE_ENTERPRISE_ADMIN
    )


def browser(user: User | None = None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(User.objects.get(pk=user.pk))
    return client


def add_agent(client: Client, username: str = "carol", role: str = "agent", follow: bool = False, **extra: Any) -> Any:
    form = {"username": username, "nickname": username.title(), "role": role, "password1": NEW_PASSWORD}
    form["password2"] = form["password1"]
    return client.post("/manage/accounts/user/add/", {**form, **extra}, follow=follow)


def token_for(username: str, password: str = AGENT_PASSWORD) -> Any:
    return APIClient().post("/api/v1/auth/token", {"username": username, "password": password}, format="json")


def audited(action: AuditAction, **match: Any) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action, **match))


# --- who may enter, and what they see --------------------------------------------------------------


def pages(agent: User, role: RoleGroup, entry: AuditEntry) -> list[str]:
    return [
        "/manage/",
        "/manage/accounts/user/",
        "/manage/accounts/user/add/",
        f"/manage/accounts/user/{agent.pk}/change/",
        f"/manage/accounts/user/{agent.pk}/password/",
        f"/manage/accounts/user/{agent.pk}/delete/",
        f"/manage/accounts/user/{agent.pk}/history/",
        "/manage/accounts/rolegroup/",
        f"/manage/accounts/rolegroup/{role.pk}/change/",
        "/manage/enterprises/auditentry/",
        f"/manage/enterprises/auditentry/{entry.pk}/change/",
    ]


def test_only_an_active_admin_of_an_active_enterprise_enters_and_everyone_else_is_told_clearly(
    enterprise, other_enterprise, agent, boss, other_boss
):
    lead = role_save(actor=boss, label="Team lead", permissions=["take", "manage_agents"])
    helper = role_save(actor=boss, label="Helper", permissions=["take", "close"])
    lead_user = agent_create(enterprise=enterprise, username="lead", password=AGENT_PASSWORD, role=lead.slug)
    helper_user = agent_create(enterprise=enterprise, username="helper", password=AGENT_PASSWORD, role=helper.slug)
    disabled = agent_create(enterprise=enterprise, username="gone", password=AGENT_PASSWORD, role=ROLE_ENTERPRISE_ADMIN)
    User.objects.filter(pk=disabled.pk).update(is_active=False)
    entry = AuditEntry.objects.filter(enterprise=enterprise).first()
    assert entry is not None  # the roles were created by boss: audited
    urls = pages(agent, lead, entry)

    # Anonymous: to the one login page, coming back here after.
    for url in urls:
        answer = browser().get(url)
        assert answer.status_code == 302 and answer["Location"].startswith("/login?next=/manage/"), url

    # Signed in, but no role that reaches here (a plain agent, a custom role without manage_agents, a
    # superadmin, who has /admin): 403 with a reason, not a login form.
    superadmin = superadmin_create(username="root", password=AGENT_PASSWORD)
    for user in (agent, helper_user, superadmin):
        client = browser(user)
        for url in urls:
            answer = client.get(url)
            assert answer.status_code == 403, (user.username, url)
            assert said("Your role does not allow this.") in answer.content.decode()

    # A disabled admin's session is no session at all.
    for url in urls:
        answer = browser(disabled).get(url)
        assert answer.status_code == 302 and answer["Location"].startswith("/login"), url

    # The enterprise admin and a custom role holding manage_agents see every page.
    for user in (boss, lead_user):
        client = browser(user)
        for url in urls:
            assert client.get(url).status_code == 200, (user.username, url)

    # A suspended enterprise's admin is out at once.
    Enterprise.objects.filter(pk=enterprise.pk).update(is_active=False)
    answer = browser(boss).get("/manage/accounts/user/")
    assert answer.status_code in (302, 403)


def test_another_enterprises_ids_answer_exactly_like_missing_ones_on_every_page(enterprise, agent, boss, other_boss):
    role = role_save(actor=boss, label="Night shift", permissions=["take"])
    entry = AuditEntry.objects.filter(enterprise=enterprise).first()
    assert entry is not None
    client = browser(other_boss)
    missing = pages(User(pk=10**9), RoleGroup(pk=10**9), AuditEntry(pk=10**9))
    for url, absent in zip(pages(agent, role, entry), missing, strict=True):
        if url in ("/manage/", "/manage/accounts/user/", "/manage/accounts/user/add/", "/manage/accounts/rolegroup/"):
            continue
        if url == "/manage/enterprises/auditentry/":
            continue
        foreign, nothing = client.get(url), client.get(absent)
        assert (foreign.status_code, foreign.get("Location")) == (nothing.status_code, nothing.get("Location")), url
        assert foreign.status_code in (302, 404)
    # Writes too: a POST with a foreign id changes nothing.
    client.post(f"/manage/accounts/user/{agent.pk}/password/", {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    client.post(f"/manage/accounts/user/{agent.pk}/delete/", {"post": "yes"})
    client.post("/manage/accounts/user/", {"action": "disable_agents", "_selected_action": [agent.pk], "index": 0})
    agent.refresh_from_db()
    assert agent.is_active and agent.deleted_at is None and agent.check_password(AGENT_PASSWORD)
    # Lists hold one enterprise only.
    listed = client.get("/manage/accounts/user/").content.decode()
    assert "globexboss" in listed and "kefu2" not in listed
    audit = client.get("/manage/enterprises/auditentry/").content.decode()
    assert "Night shift" not in audit


# --- agents ----------------------------------------------------------------------------------------


def test_an_admin_adds_an_agent_who_logs_in_at_once_and_the_addition_is_audited_with_the_address(enterprise, boss):
    answer = add_agent(browser(boss), "Carol")
    assert answer.status_code == 302, answer.content.decode()[:2000]
    carol = User.objects.get(username="carol")
    assert carol.enterprise == enterprise and permissions_of(carol) == ["take", "transfer", "close", "block"]
    assert carol.nickname == "Carol"
    assert token_for("carol", NEW_PASSWORD).status_code == 200
    [entry] = audited(AuditAction.AGENT_CREATED, target_id=str(carol.pk))
    assert (entry.actor_id, entry.enterprise_id, entry.address) == (boss.pk, enterprise.pk, "127.0.0.1")
    assert entry.details == {"role": "agent"}


def test_bad_input_on_the_add_form_is_a_clear_form_error_never_a_500(boss, agent):
    client = browser(boss)
    cases = [
        {"username": "", "role": "agent"},
        {"username": "KEFU2"},  # kefu2 once normalised
        {"username": "x" * 400},
        {"role": "no-such-role"},
        {"password2": "something-else-9"},
        {"password1": "123", "password2": "123"},
        {"max_conversations": "-4"},
        {"max_conversations": "many"},
        {"nickname": "nul\x00byte"},
    ]
    for case in cases:
        before = User.objects.count()
        answer = add_agent(client, **{"username": "dave", **case})  # type: ignore[arg-type]
        assert answer.status_code == 200, case  # the form again, with its errors
        assert "errornote" in answer.content.decode(), case
        assert User.objects.count() == before


def test_the_platforms_cap_on_agents_refuses_one_more_with_a_clear_message(enterprise, agent, boss):
    Enterprise.objects.filter(pk=enterprise.pk).update(max_agents=2)
    client = browser(boss)
    answer = add_agent(client, "erin", follow=True)
    assert not User.objects.filter(username="erin").exists()
    refusal = "Your enterprise may have at most %(max)d agents (deleted ones aside); ask the platform to raise it."
    assert said(refusal) % {"max": 2} in answer.content.decode()
    # Deleted agents do not count: deleting one makes room.
    client.post(f"/manage/accounts/user/{agent.pk}/delete/", {"post": "yes"})
    assert add_agent(client, "erin").status_code == 302
    assert User.objects.filter(username="erin").exists()


def test_nobody_is_raised_above_the_admin_who_gives_the_role(enterprise, agent, boss):
    lead_role = role_save(actor=boss, label="Team lead", permissions=["take", "manage_agents"])
    lead = agent_create(enterprise=enterprise, username="lead", password=AGENT_PASSWORD, role=lead_role.slug)
    lead = User.objects.get(pk=lead.pk)
    # The form offers only roles within the lead's own permissions...
    form = browser(lead).get("/manage/accounts/user/add/").content.decode()
    assert 'value="enterprise_admin"' not in form and f'value="{lead_role.slug}"' in form
    answer = add_agent(browser(lead), "mallory", role=ROLE_ENTERPRISE_ADMIN)
    assert answer.status_code == 200 and not User.objects.filter(username="mallory").exists()
    # ... and the services refuse it however they are called.
    with pytest.raises(ChatError) as refused:
        agent_create(enterprise=enterprise, username="mallory", password="x", role=ROLE_ENTERPRISE_ADMIN, actor=lead)
    assert refused.value.code == "above_you"
    with pytest.raises(ChatError) as refused:
        role_save(actor=lead, label="Sneaky", permissions=["take", "manage_settings"])
    assert refused.value.code == "above_you"
    # Nor may the lead touch the admin above them.
    client = browser(lead)
    client.post(f"/manage/accounts/user/{boss.pk}/password/", {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert User.objects.get(pk=boss.pk).check_password(AGENT_PASSWORD)


def test_the_last_admin_can_neither_leave_nor_be_demoted_disabled_or_deleted(enterprise, agent, boss):
    client = browser(boss)
    change = {"nickname": "Boss", "avatar": "/static/img/agent.svg", "role": "agent", "is_active": "on"}
    client.post(f"/manage/accounts/user/{boss.pk}/change/", change)
    assert permissions_of(User.objects.get(pk=boss.pk))[-1] == "manage_settings"  # still an admin
    client.post(f"/manage/accounts/user/{boss.pk}/delete/", {"post": "yes"})
    client.post("/manage/accounts/user/", {"action": "disable_agents", "_selected_action": [boss.pk], "index": 0})
    boss.refresh_from_db()
    assert boss.is_active and boss.deleted_at is None

    # With a second admin, the first may step down.
    agent_create(enterprise=enterprise, username="boss2", password=AGENT_PASSWORD, role=ROLE_ENTERPRISE_ADMIN)
    answer = client.post(f"/manage/accounts/user/{boss.pk}/change/", change)
    assert answer.status_code == 302
    assert permissions_of(User.objects.get(pk=boss.pk)) == ["take", "transfer", "close", "block"]
    assert audited(AuditAction.AGENT_CHANGED, target_id=str(boss.pk))[0].details["role"] == "agent"


def test_a_bulk_disable_that_includes_oneself_disables_the_others_and_says_why_not_oneself(
    enterprise, agent, second_agent, boss
):
    client = browser(boss)
    answer = client.post(
        "/manage/accounts/user/",
        {"action": "disable_agents", "_selected_action": [agent.pk, boss.pk, second_agent.pk], "index": 0},
        follow=True,
    )
    page = answer.content.decode()
    assert not User.objects.get(pk=agent.pk).is_active and not User.objects.get(pk=second_agent.pk).is_active
    assert User.objects.get(pk=boss.pk).is_active
    assert "boss" in page and ("You cannot disable yourself." in page or "不能停用你自己" in page)
    assert len(audited(AuditAction.AGENT_DISABLED)) == 2
    # Disabled agents' tokens stop at once (accounts.signals: the credentials hook).
    assert token_for("kefu2").status_code == 401


def test_a_password_reset_ends_the_agents_tokens_and_is_audited(agent, boss):
    old = token_for("kefu2").json()["access"]
    me = APIClient(HTTP_AUTHORIZATION=f"Bearer {old}")
    assert me.get("/api/v1/agent/me").status_code == 200
    answer = browser(boss).post(
        f"/manage/accounts/user/{agent.pk}/password/", {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert answer.status_code == 302
    assert me.get("/api/v1/agent/me").status_code == 401
    assert token_for("kefu2", NEW_PASSWORD).status_code == 200
    [entry] = audited(AuditAction.PASSWORD_RESET)
    assert (entry.actor_id, entry.target_id) == (boss.pk, str(agent.pk))
    # A mismatch or a weak password is a form error.
    answer = browser(boss).post(f"/manage/accounts/user/{agent.pk}/password/", {"password1": "abc", "password2": "abd"})
    assert answer.status_code == 200 and "errornote" in answer.content.decode()


def test_a_deleted_agent_keeps_their_name_on_their_history_and_frees_the_username(enterprise, agent, boss):
    from chat.models import Message
    from chat.services import message_create
    from tests.conftest import login_visitor

    visitor = login_visitor(enterprise, agent).visitor
    message_create(visitor=visitor, sender="agent", agent=agent, content="Hello from Alice", client_id="m1")
    answer = browser(boss).post(f"/manage/accounts/user/{agent.pk}/delete/", {"post": "yes"})
    assert answer.status_code == 302
    gone = User.objects.get(pk=agent.pk)
    assert gone.deleted_at is not None and not gone.is_active and not gone.has_usable_password()
    assert gone.display_name == "Alice"
    message = Message.objects.get(visitor=visitor, content="Hello from Alice")
    assert message.agent_id == agent.pk
    assert token_for("kefu2").status_code == 401
    assert "kefu2" not in browser(boss).get("/manage/accounts/user/").content.decode()
    assert add_agent(browser(boss), "kefu2").status_code == 302  # the name is free again
    [entry] = audited(AuditAction.AGENT_DELETED)
    assert entry.target_name == "Alice" and entry.details == {"username": "kefu2"}


def test_an_agent_search_finds_by_name_and_nickname_and_the_role_filter_by_role(enterprise, agent, second_agent, boss):
    client = browser(boss)
    page = client.get("/manage/accounts/user/?q=bob").content.decode()
    assert "kefu3" in page and "kefu2" not in page
    admins = client.get("/manage/accounts/user/?role=enterprise_admin").content.decode()
    assert "boss" in admins and "kefu2" not in admins and "kefu3" not in admins


# --- roles -----------------------------------------------------------------------------------------


def test_an_admin_composes_a_role_from_the_permissions_and_it_cannot_go_while_agents_hold_it(enterprise, agent, boss):
    client = browser(boss)
    answer = client.post("/manage/accounts/rolegroup/add/", {"label": "Supervisor", "permissions": ["take", "close"]})
    assert answer.status_code == 302
    role = RoleGroup.objects.get(enterprise=enterprise, label="Supervisor")
    holder = agent_create(enterprise=enterprise, username="sue", password=AGENT_PASSWORD, role=role.slug)
    assert permissions_of(User.objects.get(pk=holder.pk)) == ["take", "close"]
    assert audited(AuditAction.ROLE_CREATED)[0].details == {"permissions": ["close", "take"]}

    client.post(f"/manage/accounts/rolegroup/{role.pk}/delete/", {"post": "yes"})
    assert RoleGroup.objects.filter(pk=role.pk).exists()  # sue holds it
    client.post(
        f"/manage/accounts/user/{holder.pk}/change/",
        {"nickname": "Sue", "avatar": "/static/img/agent.svg", "role": "agent", "is_active": "on"},
    )
    assert client.post(f"/manage/accounts/rolegroup/{role.pk}/delete/", {"post": "yes"}).status_code == 302
    assert not RoleGroup.objects.filter(pk=role.pk).exists()
    assert audited(AuditAction.ROLE_DELETED)[0].target_name == "Supervisor"

    # Bad input: a clear form error.
    for form in ({"label": ""}, {"label": "x" * 300}, {"label": "Odd", "permissions": ["fly"]}):
        answer = client.post("/manage/accounts/rolegroup/add/", form)
        assert answer.status_code == 200 and "errornote" in answer.content.decode(), form


# --- the audit log ---------------------------------------------------------------------------------


def test_logins_and_failed_logins_are_audited_in_the_accounts_enterprise(enterprise, agent):
    assert token_for("kefu2").status_code == 200
    assert token_for("kefu2", "wrong-password").status_code == 401
    assert token_for("nobody-here", "wrong-password").status_code == 401
    Client().post("/login", {"username": "kefu2", "password": AGENT_PASSWORD})
    [jwt_login, session_login] = sorted(audited(AuditAction.LOGIN), key=lambda entry: entry.pk)
    assert (jwt_login.actor_id, jwt_login.enterprise_id, jwt_login.details) == (agent.pk, enterprise.pk, {"via": "jwt"})
    assert session_login.details == {"via": "session"} and session_login.address == "127.0.0.1"
    failed = {entry.actor_name: entry for entry in audited(AuditAction.LOGIN_FAILED)}
    assert failed["kefu2"].enterprise_id == enterprise.pk
    assert failed["nobody-here"].enterprise_id is None  # the platform's: only superadmins see it


def test_the_audit_log_cannot_be_edited_or_deleted_from_any_page(enterprise, agent, boss):
    superadmin = superadmin_create(username="root", password=AGENT_PASSWORD)
    token_for("kefu2")
    entry = AuditEntry.objects.get(action=AuditAction.LOGIN)
    for client, prefix in ((browser(boss), "/manage"), (browser(superadmin), "/admin")):
        assert client.get(f"{prefix}/enterprises/auditentry/").status_code == 200
        assert client.get(f"{prefix}/enterprises/auditentry/add/").status_code == 403
        assert client.post(f"{prefix}/enterprises/auditentry/{entry.pk}/change/", {"actor_name": "x"}).status_code in (
            403,
            200,
        )
        assert client.post(f"{prefix}/enterprises/auditentry/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    entry.refresh_from_db()
    assert entry.actor_name == "kefu2"


# --- every page of the area: one enterprise's rows, through the services ----------------------------


def one_row_of_each(enterprise: Enterprise, boss: User, agent: User) -> dict[Any, Any]:
    """A row of the enterprise for every model the management area shows."""
    from blacklist.services import ip_block, visitor_block
    from chat.models import Tag, VisitorBlock
    from chat.workspace import tag_create
    from enterprises.models import IPBlacklist
    from replies.models import KeywordRule, WelcomeText
    from replies.services import keyword_rule_create
    from tests.conftest import login_visitor

    visitor = login_visitor(enterprise, agent).visitor
    follower, delivery = a_follower_and_a_delivery(enterprise)
    visitor_block(agent=boss, visitor_id=visitor.visitor_id, reason="spam")
    ip_block(agent=boss, network="198.51.100.0/24", reason="abuse")
    return {
        User: agent,
        RoleGroup: role_save(actor=boss, label="Night shift", permissions=["take"]),
        AuditEntry: AuditEntry.objects.filter(enterprise=enterprise).first(),
        KeywordRule: keyword_rule_create(agent=boss, keyword="price", reply="See our price list."),
        WelcomeText: WelcomeText.objects.filter(enterprise=enterprise).first(),
        Tag: tag_create(agent=boss, name="VIP"),
        IPBlacklist: IPBlacklist.objects.get(enterprise=enterprise),
        VisitorBlock: VisitorBlock.objects.get(enterprise_id=enterprise.pk),
        Enterprise: enterprise,
        WechatFollower: follower,
        WechatDelivery: delivery,
    }


def a_follower_and_a_delivery(enterprise: Enterprise) -> tuple[Any, Any]:
    """A WeChat follower of the enterprise's account and a reply sent to them, written as the app does."""
    from chat.services import channel_visitor_get_or_create, message_automatic_create
    from wechat.models import WechatAccount

    account = WechatAccount.objects.create(enterprise=enterprise, app_id="wx0123456789abcdef")
    visitor, _ = channel_visitor_get_or_create(
        enterprise=enterprise, channel="wechat", public_id="wx-follower-1", name="微信用户"
    )
    follower = WechatFollower.objects.create(enterprise=enterprise, account=account, openid="o-1", visitor=visitor)
    message, _ = message_automatic_create(visitor=visitor, content="hi", client_id="c-1", meta={})
    delivery = WechatDelivery.objects.filter(message=message).first() or WechatDelivery.objects.create(
        enterprise=enterprise, message=message, follower=follower, status=WechatDelivery.Status.FAILED, errcode=45015
    )
    return follower, delivery


def admin_url(model: Any, pk: object, view: str = "change") -> str:
    return f"/manage/{model._meta.app_label}/{model._meta.model_name}/{pk}/{view}/"


def test_every_page_of_the_area_shows_and_opens_one_enterprises_rows_only(enterprise, agent, boss, other_boss):
    from enterprises.manage import manage_site

    rows = one_row_of_each(enterprise, User.objects.get(pk=boss.pk), agent)
    assert set(rows) == set(manage_site._registry), "a page of /manage/ without a row in this test"
    mine, theirs = browser(boss), browser(other_boss)
    for model, row in rows.items():
        assert row is not None, model
        listing = f"/manage/{model._meta.app_label}/{model._meta.model_name}/"
        assert mine.get(listing).status_code == 200, listing
        assert mine.get(admin_url(model, row.pk)).status_code == 200, model
        for view in ("change", "delete", "history"):
            foreign, nothing = theirs.get(admin_url(model, row.pk, view)), theirs.get(admin_url(model, 10**9, view))
            assert (foreign.status_code, foreign.get("Location")) == (nothing.status_code, nothing.get("Location"))
        assert str(row.pk) not in [
            str(pk) for pk in theirs.get(listing).context["cl"].result_list.values_list("pk", flat=True)
        ]
    # Posting to another enterprise's rows changes nothing.
    for model, row in rows.items():
        theirs.post(admin_url(model, row.pk, "delete"), {"post": "yes"})
        assert model._default_manager.filter(pk=row.pk).exists(), model


def test_a_plain_agent_who_may_block_still_does_not_enter_the_admins_area(enterprise, agent, boss):
    from accounts.permissions import MANAGE_AGENTS, MANAGE_SETTINGS
    from enterprises.manage import ADMIN_PERMISSIONS

    assert set(ADMIN_PERMISSIONS) == {MANAGE_AGENTS, MANAGE_SETTINGS}
    assert "block" in permissions_of(agent)
    assert browser(agent).get("/manage/enterprises/ipblacklist/").status_code == 403


def test_the_areas_replies_tags_blocks_and_settings_go_through_the_services_and_are_audited(enterprise, agent, boss):
    from chat.models import Tag
    from enterprises.models import IPBlacklist
    from replies.models import KeywordRule

    client = browser(boss)
    answer = client.post(
        "/manage/replies/keywordrule/add/",
        {"keyword": "refund", "match": "contains", "reply": "Refunds take 3 days.", "priority": "5", "enabled": "on"},
    )
    assert answer.status_code == 302
    rule = KeywordRule.objects.get(enterprise=enterprise, keyword="refund")
    client.post("/manage/replies/keywordrule/", {"action": "disable_rules", "_selected_action": [rule.pk], "index": 0})
    assert not KeywordRule.objects.get(pk=rule.pk).enabled

    assert client.post("/manage/chat/tag/add/", {"name": "VIP", "colour": "red"}).status_code == 302
    duplicate = client.post("/manage/chat/tag/add/", {"name": "vip", "colour": "blue"}, follow=True)
    assert Tag.objects.filter(enterprise_id=enterprise.pk).count() == 1  # the service's rule: one name, any case
    assert duplicate.status_code == 200

    answer = client.post("/manage/enterprises/ipblacklist/add/", {"network": "203.0.113.0/24", "reason": "bots"})
    assert answer.status_code == 302
    entry = IPBlacklist.objects.get(enterprise=enterprise)
    assert audited(AuditAction.BLOCK_ADDED, target_name="203.0.113.0/24")
    wide = client.post("/manage/enterprises/ipblacklist/add/", {"network": "0.0.0.0/0", "reason": "all"}, follow=True)
    assert wide.status_code == 200 and IPBlacklist.objects.filter(enterprise=enterprise).count() == 1
    client.post(
        "/manage/enterprises/ipblacklist/",
        {"action": "delete_selected", "_selected_action": [entry.pk], "index": 0, "post": "yes"},
    )
    assert not IPBlacklist.objects.filter(pk=entry.pk).exists()
    assert audited(AuditAction.BLOCK_LIFTED, target_name="203.0.113.0/24")

    answer = client.post(
        f"/manage/enterprises/enterprise/{enterprise.pk}/change/",
        {
            "max_conversations_per_agent": "3",
            "auto_close_minutes": "45",
            "offline_text": "暂时不在",
            "offline_text_en": " Away for now ",
        },
    )
    assert answer.status_code == 302
    enterprise.refresh_from_db()
    assert (enterprise.max_conversations_per_agent, enterprise.auto_close_minutes) == (3, 45)
    assert (enterprise.offline_text, enterprise.offline_text_en) == ("暂时不在", "Away for now")
    [settings_entry] = audited(AuditAction.SETTINGS_CHANGED)
    assert settings_entry.details == {
        "max_conversations_per_agent": 3,
        "auto_close_minutes": 45,
        "offline_text": "暂时不在",
        "offline_text_en": "Away for now",
    }


def test_the_console_offers_the_area_to_admins_only(enterprise, agent, boss):
    assert 'id="manage-open"' in browser(boss).get("/console").content.decode()
    assert 'id="manage-open"' not in browser(agent).get("/console").content.decode()
