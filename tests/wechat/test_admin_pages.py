"""The WeChat rows in /admin (superadmins: every enterprise's, read only, never a secret) and in /manage/
(an enterprise admin: their followers and deliveries, read only)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from accounts.models import User
from accounts.permissions import ROLE_ENTERPRISE_ADMIN
from accounts.services import agent_create, roles_ensure, superadmin_create
from chat.services import channel_visitor_get_or_create
from chat.services.messages import message_automatic_create
from tests.conftest import AGENT_PASSWORD
from wechat.models import (
    WechatAccount,
    WechatAgentBinding,
    WechatDelivery,
    WechatFollower,
    WechatQrCode,
    WechatVerifyFile,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("wechat_keys", "english_platform")]

SECRET = "S3cretS3cretS3cretS3cretS3cret12"
TOKEN = "TokenTokenToken42"


def rows(enterprise, agent) -> dict[Any, Any]:
    account = WechatAccount(enterprise=enterprise, app_id="wx0123456789abcdef", is_enabled=True)
    account.app_secret, account.token = SECRET, TOKEN
    account.save()
    visitor, _ = channel_visitor_get_or_create(enterprise=enterprise, channel="wechat", public_id="wx-f1", name="Li")
    follower = WechatFollower.objects.create(enterprise=enterprise, account=account, openid="o-admin", visitor=visitor)
    message, _ = message_automatic_create(visitor=visitor, content="hi", client_id="c-1", meta={})
    delivery = WechatDelivery.objects.filter(message=message).first() or WechatDelivery.objects.create(
        enterprise=enterprise, message=message, follower=follower
    )
    return {
        WechatAccount: account,
        WechatFollower: follower,
        WechatDelivery: delivery,
        WechatAgentBinding: WechatAgentBinding.objects.create(
            enterprise=enterprise, account=account, agent=agent, openid="o-agent"
        ),
        WechatQrCode: WechatQrCode.objects.create(
            enterprise=enterprise, account=account, agent=agent, kind="route", scene="route-1", ticket="TICKET-XYZ"
        ),
        WechatVerifyFile: WechatVerifyFile.objects.create(
            enterprise=enterprise, name="MP_verify_abcdefABCDEF1234.txt", content="abcdefABCDEF1234"
        ),
    }


def test_every_wechat_row_is_in_admin_read_only_and_no_secret_is_shown(enterprise, agent):
    roles_ensure()
    superadmin_create(username="root", password=AGENT_PASSWORD)
    client = Client(headers={"accept-language": "en"})
    assert client.login(username="root", password=AGENT_PASSWORD)
    for model, row in rows(enterprise, agent).items():
        base = f"/admin/wechat/{model._meta.model_name}/"
        listing = client.get(base)
        assert listing.status_code == 200, base
        page = client.get(f"{base}{row.pk}/change/")
        assert page.status_code == 200, base
        body = page.content.decode() + listing.content.decode()
        for secret in (SECRET, TOKEN, "TICKET-XYZ"):
            assert secret not in body, (model, secret)
        assert 'name="_save"' not in page.content.decode(), model
        assert client.get(f"{base}add/").status_code == 403, model
        before = model._default_manager.count()
        client.post(f"{base}{row.pk}/delete/", {"post": "yes"})
        assert model._default_manager.count() == before, model


def test_an_admin_lists_their_followers_and_failed_deliveries(enterprise, agent, wechat_boss, other_enterprise):
    found = rows(enterprise, agent)
    WechatDelivery.objects.filter(pk=found[WechatDelivery].pk).update(
        status=WechatDelivery.Status.FAILED, errcode=45015, reason="outside the 48-hour window"
    )
    other_boss = agent_create(
        enterprise=other_enterprise, username="otherboss", password=AGENT_PASSWORD, role=ROLE_ENTERPRISE_ADMIN
    )
    mine = browser(wechat_boss)
    page = mine.get("/manage/wechat/wechatdelivery/?status__exact=failed")
    assert page.status_code == 200 and "outside the 48-hour window" in page.content.decode()
    assert "o-admin" in mine.get(f"/manage/wechat/wechatfollower/{found[WechatFollower].pk}/change/").content.decode()
    theirs = browser(other_boss)
    assert "outside the 48-hour window" not in theirs.get("/manage/wechat/wechatdelivery/").content.decode()
    assert theirs.get(f"/manage/wechat/wechatfollower/{found[WechatFollower].pk}/change/").status_code in (302, 404)
    # A plain agent does not see them at all.
    assert browser(agent).get("/manage/wechat/wechatdelivery/").status_code in (302, 403)


def browser(user) -> Client:
    client = Client(headers={"accept-language": "en"})
    client.force_login(User.objects.get(pk=user.pk))
    return client
