"""The template messages' settings on the WeChat page of the management area: three template ids in WeChat's
format (empty = off) and a remark line, audited; a bad one refused on the form, never a 500; the agents'
bindings shown read-only."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import User
from core.errors import ChatError
from enterprises.models import AuditAction, AuditEntry, Enterprise
from wechat.models import WechatAccount, WechatAgentBinding
from wechat.services import wechat_account_save

from .fakeserver import FakeWechat
from .test_settings_page import PAGE, form, page, signed_in

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("wechat_keys")]

TPL_VISITOR = "a" * 40 + "_-Z"  # 43 letters, digits, "_" or "-"
TPL_MESSAGE = "b" * 43
TPL_REPLY = "C-c_" * 10 + "123"


def with_templates(fake: FakeWechat, **changes: Any) -> dict[str, Any]:
    values = {
        "template_new_visitor": TPL_VISITOR,
        "template_new_message": TPL_MESSAGE,
        "template_reply": TPL_REPLY,
        "template_remark": "  请尽快回复   客户  ",
        **changes,
    }
    return form(fake, **values)


def test_an_admin_saves_the_template_ids_and_remark_and_the_change_is_audited(
    enterprise: Enterprise, wechat_boss: User, fake_wechat: FakeWechat
) -> None:
    client = signed_in(wechat_boss)
    assert client.post(PAGE, with_templates(fake_wechat)).status_code == 302
    account = WechatAccount.objects.get(enterprise=enterprise)
    assert (account.template_new_visitor, account.template_new_message, account.template_reply) == (
        TPL_VISITOR,
        TPL_MESSAGE,
        TPL_REPLY,
    )
    assert account.template_remark == "请尽快回复 客户"  # one line
    shown = page(client)
    assert TPL_VISITOR in shown and TPL_REPLY in shown and "请尽快回复 客户" in shown
    assert client.post(PAGE, with_templates(fake_wechat, template_reply="")).status_code == 302
    assert WechatAccount.objects.get(enterprise=enterprise).template_reply == ""  # empty: off
    latest = AuditEntry.objects.filter(action=AuditAction.SETTINGS_CHANGED, target_type="wechat_account").latest("pk")
    assert latest.details["changed"] == ["template_reply"]


@pytest.mark.parametrize(
    "changes",
    [
        {"template_new_visitor": "a" * 42},
        {"template_new_message": "a" * 44},
        {"template_reply": "a" * 42 + "!"},
        {"template_reply": "模板" * 21 + "a"},
        {"template_remark": "r" * 201},
        {"template_remark": "bad\x00nul"},
    ],
)
def test_a_bad_template_field_is_refused_on_the_form_and_nothing_is_saved(
    enterprise: Enterprise, wechat_account: WechatAccount, wechat_boss: User, fake_wechat: FakeWechat, changes: Any
) -> None:
    client = signed_in(wechat_boss)
    answer = client.post(PAGE, with_templates(fake_wechat, **changes))
    assert answer.status_code == 400
    body = answer.content.decode()
    assert "errorlist" in body
    account = WechatAccount.objects.get(pk=wechat_account.pk)
    assert (account.template_new_visitor, account.template_new_message, account.template_reply) == ("", "", "")
    assert account.template_remark == ""


def test_the_form_says_what_a_template_id_is(
    wechat_account: WechatAccount, wechat_boss: User, fake_wechat: Any
) -> None:
    answer = signed_in(wechat_boss).post(PAGE, with_templates(fake_wechat, template_reply="x" * 20 + "?" * 23))
    assert answer.status_code == 400
    assert "A template id is 43 letters, digits" in answer.content.decode()


def test_the_service_checks_the_ids_and_keeps_the_templates_when_not_given(
    enterprise: Enterprise, wechat_account: WechatAccount, wechat_boss: User, fake_wechat: FakeWechat
) -> None:
    known = fake_wechat.account
    common: dict[str, Any] = {"actor": wechat_boss, "app_id": known.app_id, "is_enabled": True}
    wechat_account_save(**common, template_new_message=TPL_MESSAGE, template_remark="Hi")
    with pytest.raises(ChatError) as refused:
        wechat_account_save(**common, template_new_visitor="short")
    assert refused.value.code == "invalid"
    with pytest.raises(ChatError):
        wechat_account_save(**common, template_reply=42)  # type: ignore[arg-type]
    wechat_account_save(**common, greeting="changed")  # the templates not given: kept
    account = WechatAccount.objects.get(pk=wechat_account.pk)
    assert (account.template_new_message, account.template_remark, account.template_new_visitor) == (
        TPL_MESSAGE,
        "Hi",
        "",
    )


def test_the_page_lists_the_agents_who_bound_their_wechat_and_no_one_elses(
    enterprise: Enterprise,
    agent: User,
    other_agent: User,
    wechat_account: WechatAccount,
    wechat_boss: User,
    fake_wechat: FakeWechat,
) -> None:
    WechatAgentBinding.objects.create(
        enterprise=enterprise, account=wechat_account, agent=agent, openid="o-alice", nickname="Alice's WeChat"
    )
    WechatAgentBinding.objects.create(
        enterprise=enterprise,
        account=wechat_account,
        agent=wechat_boss,
        openid="o-boss",
        alerts_enabled=False,
        last_error="WeChat error 43004: require subscribe",
    )
    WechatAgentBinding.objects.create(enterprise=enterprise, account=wechat_account, agent=other_agent, openid="o-gil")
    shown = page(signed_in(wechat_boss))
    assert 'id="wechat-bindings"' in shown
    assert "Alice's WeChat" in shown and "o-boss" in shown and "require subscribe" in shown
    assert "o-gil" not in shown  # an agent of another enterprise
