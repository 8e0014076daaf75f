"""Error pages speak the visitor's language and say what to do next."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_a_missing_page_answers_in_the_visitors_language(db):
    english = Client(HTTP_ACCEPT_LANGUAGE="en").get("/no/such/page")
    chinese = Client(HTTP_ACCEPT_LANGUAGE="zh-CN").get("/no/such/page")
    assert english.status_code == chinese.status_code == 404
    assert "Page not found" in english.content.decode() and 'lang="en"' in english.content.decode()
    assert "页面不存在" in chinese.content.decode() and 'lang="zh-hans"' in chinese.content.decode()
