"""Welcome and offline texts in the visitor's language, and the platform's default language for readers
who ask for none of GoFly's: the login, the socket's `ready`, the widget and every page agree."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import AsyncClient, Client
from rest_framework.test import APIClient

from enterprises.models import SystemConfig
from enterprises.selectors import system_config_forget
from gofly_site.asgi import application
from replies.models import WelcomeText
from replies.services import welcome_text_seed
from tests.chat.test_api import agent_client
from tests.chat.wsutil import connect_ready
from tests.conftest import login_visitor

pytestmark = pytest.mark.django_db(transaction=True)  # the widget reads on a pool thread: committed data only


@pytest.fixture
def texts(enterprise: Any) -> Any:
    """The fixture's one text for every language, then one each in Chinese and English."""
    WelcomeText.objects.filter(enterprise=enterprise).update(content="Hello · 您好")
    for content, language in (("您好，欢迎！", "zh-hans"), ("Welcome!", "en")):
        row = welcome_text_seed(enterprise=enterprise, content=content)
        WelcomeText.objects.filter(pk=row.pk).update(language=language)
    enterprise.offline_text, enterprise.offline_text_en = "我们暂时不在。", "We are away."
    enterprise.save()
    from replies import cache as replies_cache

    replies_cache.bump(enterprise.pk)
    return enterprise


def login_answer(enterprise: Any, accept: str | None) -> dict[str, Any]:
    headers = {"accept-language": accept} if accept else {}
    answer = APIClient().post("/api/v1/visitor/login", {"ent_id": str(enterprise.pk)}, format="json", headers=headers)
    assert answer.status_code == 200
    return answer.json()["enterprise"]  # type: ignore[no-any-return]


def default_language_set(code: str) -> None:
    config = SystemConfig.objects.first() or SystemConfig()
    config.default_language = code
    config.save()
    system_config_forget()


def test_a_visitor_is_welcomed_in_their_language_with_the_offline_text_in_it(texts):
    chinese, english = login_answer(texts, "zh-CN,zh;q=0.9"), login_answer(texts, "en-GB,en;q=0.8")
    assert (chinese["welcomes"], chinese["welcome"], chinese["offline_text"]) == (
        ["您好，欢迎！"],
        "您好，欢迎！",
        "我们暂时不在。",
    )
    assert (english["welcomes"], english["welcome"], english["offline_text"]) == (
        ["Welcome!"],
        "Welcome!",
        "We are away.",
    )


def test_texts_for_every_language_stand_in_and_then_any_text_rather_than_none(texts):
    WelcomeText.objects.filter(enterprise=texts, language="en").delete()
    from replies import cache as replies_cache

    replies_cache.bump(texts.pk)
    assert login_answer(texts, "en")["welcomes"] == ["Hello · 您好"]
    WelcomeText.objects.filter(enterprise=texts, language="").delete()
    replies_cache.bump(texts.pk)
    assert login_answer(texts, "en")["welcomes"] == ["您好，欢迎！"]  # only Chinese ones: better than silence
    texts.offline_text_en = ""
    texts.save()
    assert login_answer(texts, "en")["offline_text"] == "我们暂时不在。"
    texts.offline_text, texts.offline_text_en = "", "We are away."
    texts.save()
    assert login_answer(texts, "zh-hans")["offline_text"] == "We are away."


async def test_the_ready_frame_speaks_the_language_of_the_page_or_else_of_the_browser(texts):
    login = await database_sync_to_async(login_visitor)(texts)
    said = {}
    for name, query, headers in (
        ("page en", "&lang=en", [(b"accept-language", b"zh-CN")]),
        ("page zh", "&lang=zh-hans", [(b"accept-language", b"en")]),
        ("browser en", "", [(b"accept-language", b"en-US,en;q=0.9")]),
        ("unknown page language", "&lang=xx", [(b"accept-language", b"en")]),
    ):
        comm = WebsocketCommunicator(
            application, f"/ws/visitor?token={login.token}{query}", headers=[(b"host", b"testserver"), *headers]
        )
        ready = await connect_ready(comm)
        said[name] = (ready["welcome"], ready["offline_text"])
        await comm.disconnect()
    assert said == {
        "page en": ("Welcome!", "We are away."),
        "page zh": ("您好，欢迎！", "我们暂时不在。"),
        "browser en": ("Welcome!", "We are away."),
        "unknown page language": ("Welcome!", "We are away."),
    }


def test_the_widget_answers_in_the_language_it_is_asked_in(texts):
    english = APIClient().get(f"/api/v1/widget?ent_id={texts.pk}", HTTP_ACCEPT_LANGUAGE="en").json()
    chinese = APIClient().get(f"/api/v1/widget?ent_id={texts.pk}", HTTP_ACCEPT_LANGUAGE="zh-CN").json()
    assert (english["welcome"], english["offline_text"]) == ("Welcome!", "We are away.")
    assert (chinese["welcome"], chinese["offline_text"]) == ("您好，欢迎！", "我们暂时不在。")


def test_the_platforms_default_language_serves_readers_who_ask_for_none_of_ours(texts):
    default_language_set("en")
    client = Client()
    assert client.get("/login").headers["Content-Language"] == "en"  # no Accept-Language at all
    assert client.get("/login", HTTP_ACCEPT_LANGUAGE="fr-FR,de;q=0.5").headers["Content-Language"] == "en"
    assert client.get("/login", HTTP_ACCEPT_LANGUAGE="fr, zh-TW;q=0.4").headers["Content-Language"] == "zh-hans"
    assert login_answer(texts, "fr")["welcomes"] == ["Welcome!"]
    default_language_set("zh-hans")
    assert client.get("/login", HTTP_ACCEPT_LANGUAGE="fr").headers["Content-Language"] == "zh-hans"
    client.cookies["django_language"] = "en"
    assert client.get("/login", HTTP_ACCEPT_LANGUAGE="fr").headers["Content-Language"] == "en"  # the reader's choice


async def test_the_default_language_reaches_async_views_without_a_query_on_the_event_loop(texts):
    await database_sync_to_async(default_language_set)("en")
    answer = await AsyncClient().post(
        "/api/v1/visitor/login", {"ent_id": str(texts.pk)}, content_type="application/json"
    )
    assert answer.status_code == 200 and answer.json()["enterprise"]["welcomes"] == ["Welcome!"]
    assert answer.headers["Content-Language"] == "en"


def test_a_welcome_texts_language_is_one_of_ours_or_every_language(texts, admin):
    boss = agent_client(admin)
    for language in ("fr", 5, ["en"]):
        refused = boss.post("/api/v1/agent/welcome-texts", {"content": "Hi", "language": language}, format="json")
        assert refused.status_code == 400, language
    made = boss.post("/api/v1/agent/welcome-texts", {"content": "Hi", "language": "en"}, format="json").json()
    assert made["language"] == "en"
    changed = boss.patch(f"/api/v1/agent/welcome-texts/{made['id']}", {"language": ""}, format="json").json()
    assert changed["language"] == ""
    assert WelcomeText.objects.filter(enterprise=texts).count() == 4
