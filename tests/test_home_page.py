"""The public home page at /: the system configuration's text in the reader's language, sanitised; without
one, / leads to the console."""

from __future__ import annotations

import pytest
from django.test import Client

from enterprises.models import SystemConfig
from enterprises.selectors import system_config_forget

pytestmark = pytest.mark.django_db


def test_without_a_home_text_the_root_leads_to_the_console(db):
    answer = Client().get("/")
    assert answer.status_code == 302 and answer["Location"] == "/console"


def test_the_home_text_is_shown_in_the_readers_language_sanitised_with_the_other_as_stand_in(db):
    SystemConfig.objects.create(
        site_title="Acme Help",
        home_zh="<p>欢迎使用 <b>Acme</b> 客服</p>",
        home_en='<p>Welcome to <b>Acme</b></p><script>alert(1)</script><a href="javascript:x()">x</a>',
        registration_open=True,
    )
    system_config_forget()
    english = Client(HTTP_ACCEPT_LANGUAGE="en").get("/").content.decode()
    assert "<p>Welcome to <b>Acme</b></p>" in english and "<script>alert(1)" not in english
    assert "javascript:" not in english and 'href="/register"' in english and "<title>Acme Help</title>" in english
    chinese = Client(HTTP_ACCEPT_LANGUAGE="zh-CN").get("/").content.decode()
    assert "<p>欢迎使用 <b>Acme</b> 客服</p>" in chinese
    SystemConfig.objects.update(home_zh="")
    system_config_forget()
    assert "Welcome to" in Client(HTTP_ACCEPT_LANGUAGE="zh-CN").get("/").content.decode()  # the other stands in
