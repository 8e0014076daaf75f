"""The custom menu's rules (wechat.menu), checked before anything is stored or sent to WeChat: each of WeChat's
limits, every problem named by its button and field, and input that is not a menu refused clearly."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.utils import translation

from wechat.menu import MENU_MAX_BYTES, MenuInvalidError, menu_normalise, menu_parse


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    with translation.override("en"):
        yield


def click(name: Any = "联系客服", key: Any = "DESK") -> dict[str, Any]:
    return {"type": "click", "name": name, "key": key}


def view(name: str = "官网", url: str = "https://www.example.com/") -> dict[str, Any]:
    return {"type": "view", "name": name, "url": url}


def problems(value: Any, **options: Any) -> list[tuple[str, str]]:
    with pytest.raises(MenuInvalidError) as refused:
        menu_normalise(value, **options)
    assert refused.value.code == "invalid_menu" and refused.value.message
    return [(problem.field, str(problem)) for problem in refused.value.problems]


def fields(value: Any, **options: Any) -> list[str]:
    return [field for field, _text in problems(value, **options)]


def test_a_menu_comes_out_in_wechats_form_with_only_the_fields_each_type_reads():
    menu = {
        "button": [
            {"type": "click", "name": " 联系客服 ", "key": "DESK", "sub_button": []},  # as menu/get gives it
            {
                "name": "更多",
                "sub_button": [
                    view(),
                    {
                        "type": "miniprogram",
                        "name": "小程序",
                        "url": "http://m.example.com",
                        "appid": "wx" + "a1" * 8,
                        "pagepath": "pages/index",
                    },
                    {"type": "location_select", "name": "发送位置", "key": "WHERE"},
                ],
            },
        ]
    }
    assert menu_normalise(menu) == {
        "button": [
            {"type": "click", "name": "联系客服", "key": "DESK"},
            {
                "name": "更多",
                "sub_button": [
                    {"type": "view", "name": "官网", "url": "https://www.example.com/"},
                    {
                        "type": "miniprogram",
                        "name": "小程序",
                        "url": "http://m.example.com",
                        "appid": "wx" + "a1" * 8,
                        "pagepath": "pages/index",
                    },
                    {"type": "location_select", "name": "发送位置", "key": "WHERE"},
                ],
            },
        ]
    }
    # WeChat's menu/get answer is accepted as it comes, and gives the same menu back.
    answer = {"menu": {"button": menu_normalise(menu)["button"], "menuid": 208396938}}
    assert menu_normalise(answer) == menu_normalise(menu)


def test_names_keys_and_urls_at_their_limits_pass():
    top = "一二三四五"  # 15 bytes; 16 is the limit
    assert len((top + "a").encode()) == 16
    sub = "长" * 20  # 60 bytes
    menu = {
        "button": [
            click(top + "a", "k" * 128),
            {"name": "x" * 16, "sub_button": [view(sub, "https://e.com/" + "p" * 1010)] * 1},
        ]
    }
    assert len(menu["button"][1]["sub_button"][0]["url"].encode()) == 1024
    assert menu_normalise(menu)["button"][0]["name"] == top + "a"
    assert menu_normalise({"button": [click(), click(key="B"), click(key="C")]})


@pytest.mark.parametrize(
    ("menu", "field", "words"),
    [
        (
            {"button": [click(key="A"), click(key="B"), click(key="C"), click(key="D")]},
            "button",
            "4 buttons; WeChat allows at most 3",
        ),
        (
            {"button": [{"name": "更多", "sub_button": [click(key=str(n)) for n in range(6)]}]},
            "button.0.sub_button",
            "6 sub-buttons; WeChat allows at most 5",
        ),
        ({"button": [click("一二三四五六")]}, "button.0.name", "18 bytes long; WeChat allows at most 16"),
        ({"button": [click("x" * 17)]}, "button.0.name", "17 bytes long; WeChat allows at most 16"),
        (
            {"button": [{"name": "m", "sub_button": [click("长" * 20 + "x")]}]},
            "button.0.sub_button.0.name",
            "61 bytes long; WeChat allows at most 60",
        ),
        ({"button": [click(key="k" * 129)]}, "button.0.key", "129 bytes long; WeChat allows at most 128"),
        (
            {"button": [view(url="https://e.com/" + "p" * 1011)]},
            "button.0.url",
            "1025 bytes long; WeChat allows at most 1024",
        ),
        ({"button": [click("")]}, "button.0.name", "Enter the name"),
        ({"button": [click("   ")]}, "button.0.name", "Enter the name"),
        ({"button": [{"type": "click", "name": "n"}]}, "button.0.key", "Enter the key"),
        (
            {"button": [click(key="A"), {"name": "m", "sub_button": [click("b", "A")]}]},
            "button.1.sub_button.0.key",
            "already used by Button 1",
        ),
        ({"button": [view(url="ftp://e.com/")]}, "button.0.url", "http:// or https://"),
        ({"button": [view(url="javascript:alert(1)")]}, "button.0.url", "http:// or https://"),
        ({"button": [view(url="https:///nohost")]}, "button.0.url", "http:// or https://"),
        ({"button": [{"type": "media_id", "name": "图文", "media_id": "M"}]}, "button.0", "Unknown fields: media_id"),
        ({"button": [{"type": "media_id", "name": "图文"}]}, "button.0.type", "not supported"),
        ({"button": [{"name": "什么"}]}, "button.0.type", "Choose what the button does"),
        ({"button": [click(name=7)]}, "button.0.name", "must be text"),
        ({"button": [click(name="a\nb")]}, "button.0.name", "not allowed"),
        (
            {
                "button": [
                    {"type": "miniprogram", "name": "m", "url": "https://e.com", "appid": "gh_1", "pagepath": "p"}
                ]
            },
            "button.0.appid",
            "mini program",
        ),
        (
            {"button": [{"name": "m", "sub_button": [{"name": "s", "sub_button": [click()]}]}]},
            "button.0.sub_button.0.sub_button",
            "cannot have sub-buttons",
        ),
        ({"button": [{**click(), "sub_button": [view()]}]}, "button.0", "cannot have an action of its own"),
        ({"button": [{"name": "m", "sub_button": "many"}]}, "button.0.sub_button", "must be a list"),
        ({"button": ["click"]}, "button.0", "must be an object"),
        ({"button": {"name": "x"}}, "", "is a list of buttons"),
        (["not", "a", "menu"], "", "is a list of buttons"),
        ({"button": [], "colour": "red"}, "", "Unknown fields: colour"),
    ],
)
def test_each_rule_broken_is_named_with_its_button_and_field(menu, field, words):
    found = problems(menu)
    assert any(where == field and words in text for where, text in found), found


def test_every_problem_is_listed_at_once_each_saying_where():
    found = problems({"button": [click("x" * 17, "K"), {"name": "m", "sub_button": [click("", "K"), view(url="x")]}]})
    assert [field for field, _ in found] == [
        "button.0.name",
        "button.1.sub_button.0.name",
        "button.1.sub_button.0.key",
        "button.1.sub_button.1.url",
    ]
    assert found[1][1].startswith("Button 2, sub-button 1: ")


def test_an_empty_menu_is_a_draft_but_cannot_be_published():
    assert menu_normalise({"button": []}) == {"button": []}
    assert fields({"button": []}, publishing=True) == [""]


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ('{"button": [', "not valid JSON"),
        ("{'button': []}", "not valid JSON"),
        ('{"button": NaN}', "not valid JSON"),
        ("[" * 5000 + "]" * 5000, "nested"),
        ('{"button": [{"sub_button": [{"sub_button": [{"x": [1]}]}]}]}', "nested"),
        ('{"button": [{"name": "\\ud800", "type": "click", "key": "k"}]}', "valid Unicode"),
        ('{"button": [{"name": "a\\u0000", "type": "click", "key": "k"}]}', "valid Unicode"),
        ('{"button": [{"name": "\ufffd"}]}', "valid Unicode"),
        (b'{"button": [{"name": "\xff\xfe"}]}', "valid Unicode"),
        ('{"button": []}' + " " * MENU_MAX_BYTES, "too large"),
    ],
)
def test_text_that_is_not_a_menu_is_refused_with_a_clear_reason(raw, words):
    with pytest.raises(MenuInvalidError) as refused:
        menu_parse(raw)
    assert words in refused.value.message


def test_an_empty_editor_is_an_empty_menu_and_good_json_parses():
    assert menu_parse("  ") == {"button": []}
    menu = {"button": [click()]}
    assert menu_parse(json.dumps(menu, ensure_ascii=False)) == menu
