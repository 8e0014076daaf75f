"""The product a visitor looks at (`extra.visitorProduct`): checked and normalised at login, dropped when it is
not one (the chat still opens), handed to the page to pin, shown to agents, and sent as a product card."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from chat import products, services
from chat.models import Message, Visitor
from tests.conftest import login_visitor

from .test_api import agent_client

pytestmark = pytest.mark.django_db(transaction=True)

KETTLE = {
    "title": "Blue kettle",
    "price": "¥99",
    "img": "https://shop.example.com/k.jpg",
    "url": "https://shop.example.com/k",
}


def b64(obj: Any) -> str:
    return base64.b64encode(json.dumps(obj).encode()).decode()


def test_the_manuals_product_is_kept_with_the_rest_of_extra_and_handed_to_the_page(enterprise: Any) -> None:
    login = login_visitor(enterprise, extra=b64({"visitorProduct": KETTLE, "plan": "gold"}))
    assert login.product == KETTLE
    visitor = Visitor.objects.get(pk=login.visitor.pk)
    assert visitor.extra == {"visitorProduct": KETTLE, "plan": "gold"}


def test_it_is_trimmed_a_numeric_price_written_as_text_and_missing_fields_are_empty(enterprise: Any) -> None:
    login = login_visitor(enterprise, extra={"visitorProduct": {"title": "  Kettle ", "price": 99.5, "extra": 1}})
    assert login.product == {"title": "Kettle", "price": "99.5", "img": "", "url": ""}


def test_relative_links_are_the_operators_page_s_not_ours(enterprise: Any) -> None:
    product = {"title": "Kettle", "img": "/img/k.jpg", "url": "k.html?x=1", "price": ""}
    login = login_visitor(
        enterprise, landing_page="https://shop.example.com/items/9", extra={"visitorProduct": product}
    )
    assert login.product == {
        "title": "Kettle",
        "price": "",
        "img": "https://shop.example.com/img/k.jpg",
        "url": "https://shop.example.com/items/k.html?x=1",
    }
    # Without an http(s) page to resolve them against, a relative link means nothing: no product.
    alone = login_visitor(enterprise, landing_page="", referrer="", extra={"visitorProduct": product})
    assert alone.product is None


@pytest.mark.parametrize(
    "product",
    [
        "Blue kettle",
        ["Blue kettle"],
        {"price": "¥99"},
        {"title": ""},
        {"title": "   "},
        {"title": 42},
        {"title": "x" * 201},
        {"title": "Kettle", "price": True},
        {"title": "Kettle", "price": "9" * 51},
        {"title": "Kettle", "price": {"amount": 9}},
        {"title": "Kettle", "img": "javascript:alert(1)"},
        {"title": "Kettle", "url": "javascript:alert(1)"},
        {"title": "Kettle", "url": "data:text/html,<script>alert(1)</script>"},
        {"title": "Kettle", "img": "ftp://shop.example.com/k.jpg"},
        {"title": "Kettle", "url": 'https://shop.example.com/"onmouseover="x'},
        {"title": "Kettle", "url": "https://shop.example.com/a b"},
        {"title": "Kettle", "url": "https://"},
        {"title": "Kettle", "url": "https://shop.example.com/" + "a" * 1000},
        {"title": "Kettle", "img": ["https://shop.example.com/k.jpg"]},
    ],
)
def test_a_product_that_is_not_one_is_dropped_and_the_visitor_still_logs_in(enterprise: Any, product: Any) -> None:
    login = login_visitor(enterprise, extra=b64({"visitorProduct": product, "plan": "gold"}))
    assert login.product is None
    assert Visitor.objects.get(pk=login.visitor.pk).extra == {"plan": "gold"}


def test_a_returning_visitor_on_a_page_without_a_product_gets_no_pin(enterprise: Any) -> None:
    first = login_visitor(enterprise, extra={"visitorProduct": KETTLE})
    again = login_visitor(enterprise, token=first.token, extra=None)
    assert again.visitor.pk == first.visitor.pk and again.product is None


def test_login_over_http_answers_the_product_and_agents_see_it_in_extra(api: Any, enterprise: Any, agent: Any) -> None:
    body = {"ent_id": str(enterprise.pk), "extra": b64({"visitorProduct": KETTLE}), "landing_page": "https://s.cn/"}
    answer = api.post("/api/v1/visitor/login", body, format="json").json()
    assert answer["product"] == KETTLE
    plain = api.post("/api/v1/visitor/login", {"ent_id": str(enterprise.pk)}, format="json").json()
    assert plain["product"] is None
    summary = agent_client(agent).get(f"/api/v1/agent/visitors/{answer['visitor']['visitor_id']}").json()
    assert summary["extra"] == {"visitorProduct": KETTLE}


def test_the_pinned_product_is_sent_as_the_originals_product_card_text(enterprise: Any) -> None:
    login = login_visitor(enterprise, extra={"visitorProduct": KETTLE})
    assert login.product is not None
    text = products.product_message(login.product)
    assert (
        text
        == 'product[{"title":"Blue kettle","price":"¥99","img":"https://shop.example.com/k.jpg","url":"https://shop.example.com/k"}]'
    )
    message, created = services.message_create(visitor=login.visitor, sender="visitor", content=text, client_id="p-1")
    assert created and Message.objects.get(pk=message.pk).content == text
    # The longest product there can be still fits in a message.
    longest = {
        "title": "t" * 200,
        "price": "p" * 50,
        "img": "https://a.cn/" + "i" * 980,
        "url": "https://a.cn/" + "u" * 980,
    }
    assert products.product_clean(longest) == longest
    services.message_create(
        visitor=login.visitor, sender="visitor", content=products.product_message(longest), client_id="p-2"
    )


@pytest.fixture
def api() -> Any:
    from rest_framework.test import APIClient

    return APIClient()
