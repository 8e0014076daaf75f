"""The platform's system configuration: one row a superadmin edits in /admin, shown by every page."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.services import superadmin_create
from enterprises.models import SystemConfig
from tests.conftest import AGENT_PASSWORD

pytestmark = pytest.mark.django_db


def test_a_superadmin_sets_the_title_keywords_description_and_copyright_every_page_shows(agent):
    assert "<title>" in Client().get("/login").content.decode()
    page = Client().get("/login").content.decode()
    assert "· GoFly</title>" in page and 'name="keywords"' not in page and "/register" not in page
    root = superadmin_create(username="root", password=AGENT_PASSWORD)
    admin = Client()
    admin.force_login(root)
    assert admin.get("/admin/enterprises/systemconfig/")["Location"] == "/admin/enterprises/systemconfig/add/"
    answer = admin.post(
        "/admin/enterprises/systemconfig/add/",
        {
            "site_title": "Acme Help <b>",
            "keywords": "客服, live chat",
            "description": "Talk to us",
            "copyright": "© 2026 Acme",
            "default_language": "en",
            "registration_open": "on",
        },
    )
    assert answer.status_code == 302
    config = SystemConfig.objects.get()
    assert (
        admin.get("/admin/enterprises/systemconfig/")["Location"]
        == f"/admin/enterprises/systemconfig/{config.pk}/change/"
    )
    assert admin.get("/admin/enterprises/systemconfig/add/").status_code == 403  # one row only
    assert admin.post(f"/admin/enterprises/systemconfig/{config.pk}/delete/", {"post": "yes"}).status_code == 403
    login = Client().get("/login")
    assert login["Content-Language"] == "en"  # the default language, for a browser that names none of ours
    page = login.content.decode()
    assert "· Acme Help &lt;b&gt;</title>" in page  # escaped
    assert '<meta name="keywords" content="客服, live chat">' in page
    assert '<meta name="description" content="Talk to us">' in page
    assert "© 2026 Acme" in page and 'href="/register"' in page
    console = Client()
    console.force_login(agent)
    assert "Acme Help &lt;b&gt;" in console.get("/console").content.decode()
