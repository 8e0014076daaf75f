"""The custom menu (自定义菜单) checked against WeChat's rules before it is stored or published: pure functions,
no database, no network.

`menu_parse(raw)` turns the editor's JSON text into a value (or refuses it: too large, not JSON, nested too
deep, not valid Unicode); `menu_normalise(value)` checks that value against WeChat's limits and returns the
menu in WeChat's own form, {"button": [...]}, with only the fields WeChat reads for each type, in its order.
Both raise MenuInvalidError, which lists every problem found, each naming its button and field, so that the
page can show them all at once.

The types offered are those that need nothing from WeChat's material library: `click` and the other
key-carrying events (scan, photo, location: what they send arrives at the callback like any message),
`view` (a web page, http or https) and `miniprogram`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.utils.translation import gettext as _

from core.errors import ChatError
from core.jsonin import InputError, loads, text_ok

MAX_BUTTONS = 3
MAX_SUB_BUTTONS = 5
NAME_MAX_BYTES = 16  # a top button: 5 Chinese characters (3 bytes each in UTF-8) or 16 Latin letters
SUB_NAME_MAX_BYTES = 60
KEY_MAX_BYTES = 128
URL_MAX_BYTES = 1024
PAGEPATH_MAX_BYTES = 1024
MENU_MAX_BYTES = 32 * 1024  # of JSON text: 18 buttons at their longest (1 KB URLs) fit with room to spare
MENU_MAX_DEPTH = 6  # {"button": [{"sub_button": [{...: "text"}]}]}

# Types whose button sends its `key` to the callback as an event.
KEY_TYPES = (
    "click",
    "scancode_push",
    "scancode_waitmsg",
    "pic_sysphoto",
    "pic_photo_or_album",
    "pic_weixin",
    "location_select",
)
VIEW = "view"
MINIPROGRAM = "miniprogram"
TYPES = (*KEY_TYPES, VIEW, MINIPROGRAM)
# What each type carries besides its name, in WeChat's order.
_FIELDS = {**{kind: ("key",) for kind in KEY_TYPES}, VIEW: ("url",), MINIPROGRAM: ("url", "appid", "pagepath")}
# Fields a button may hold at all (WeChat's menu/get adds an empty sub_button to every leaf button).
_KNOWN = {"type", "name", "key", "url", "appid", "pagepath", "sub_button"}
_MINIPROGRAM_APPID = re.compile(r"wx[0-9a-fA-F]{16}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class MenuProblem:
    """One rule broken: `field` a machine path ("button.1.sub_button.0.name", "" for the whole menu),
    `where` the button in words ("Button 2, sub-button 1"), `message` what is wrong."""

    field: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


class MenuInvalidError(ChatError):
    """The menu breaks WeChat's rules (or is not a menu at all): every problem in `problems`."""

    def __init__(self, problems: list[MenuProblem]) -> None:
        super().__init__("invalid_menu", " ".join(str(problem) for problem in problems))
        self.problems = problems


def _whole(message: str) -> MenuInvalidError:
    return MenuInvalidError([MenuProblem("", "", message)])


def menu_parse(raw: str | bytes) -> Any:
    """The JSON value of the editor's text, or MenuInvalidError (too large, not JSON, too deep, bad text)."""
    if not isinstance(raw, str | bytes):
        raise _whole(_("The menu is not valid JSON."))
    size = len(raw) if isinstance(raw, bytes) else len(raw.encode("utf-8", "surrogatepass"))
    if size > MENU_MAX_BYTES:
        raise _whole(_("The menu is too large: at most %(limit)d bytes of JSON.") % {"limit": MENU_MAX_BYTES})
    if isinstance(raw, str) and "\ufffd" in raw:  # what a form in another encoding than UTF-8 leaves
        raise _whole(_("Text must be valid Unicode without NUL characters."))
    if not raw.strip():
        return {"button": []}
    try:
        return loads(raw, max_depth=MENU_MAX_DEPTH)
    except InputError as refusal:
        message = _("The menu is not valid JSON.") if refusal.code == "parse_error" else refusal.message
        raise _whole(message) from None


class _Checker:
    def __init__(self) -> None:
        self.problems: list[MenuProblem] = []
        self.keys: dict[str, str] = {}  # key -> where it was first used

    def fail(self, field: str, where: str, message: str) -> None:
        self.problems.append(MenuProblem(field, where, message))

    def text(self, button: dict[str, Any], name: str, path: str, where: str, *, limit: int, label: str) -> str | None:
        """The field `name` of `button` as stored (stripped), or None after recording why it cannot be."""
        value = button.get(name)
        field = f"{path}.{name}"
        if value is None or (isinstance(value, str) and not value.strip()):
            self.fail(field, where, _("Enter the %(field)s.") % {"field": label})
            return None
        if not isinstance(value, str):
            self.fail(field, where, _("The %(field)s must be text.") % {"field": label})
            return None
        value = value.strip()
        if not text_ok(value) or _CONTROL.search(value):
            self.fail(field, where, _("The %(field)s holds characters that are not allowed.") % {"field": label})
            return None
        size = len(value.encode("utf-8"))
        if size > limit:
            self.fail(
                field,
                where,
                _("The %(field)s is %(size)d bytes long; WeChat allows at most %(limit)d (a Chinese character is 3).")
                % {"field": label, "size": size, "limit": limit},
            )
            return None
        return value

    def url(self, button: dict[str, Any], path: str, where: str) -> str | None:
        value = self.text(button, "url", path, where, limit=URL_MAX_BYTES, label=_("URL"))
        if value is None:
            return None
        try:
            parts = urlsplit(value)
            ok = parts.scheme in ("http", "https") and bool(parts.hostname) and not re.search(r"\s", value)
        except ValueError:
            ok = False
        if not ok:
            self.fail(f"{path}.url", where, _("The URL must be a web address starting with http:// or https://."))
            return None
        return value

    def action(self, button: dict[str, Any], path: str, where: str, *, name_limit: int) -> dict[str, Any] | None:
        """A button that does something (no sub-menu), normalised; None when it breaks a rule."""
        name = self.text(button, "name", path, where, limit=name_limit, label=_("name"))
        kind = button.get("type")
        if kind is None or kind == "":
            self.fail(f"{path}.type", where, _("Choose what the button does, or give it sub-buttons."))
            return None
        if not isinstance(kind, str) or kind not in TYPES:
            self.fail(
                f"{path}.type",
                where,
                _("The type %(type)s is not supported; use one of: %(types)s.")
                % {"type": str(kind)[:40], "types": ", ".join(TYPES)},
            )
            return None
        result: dict[str, Any] = {"type": kind, "name": name}
        for field in _FIELDS[kind]:
            if field == "key":
                key = self.text(button, "key", path, where, limit=KEY_MAX_BYTES, label=_("key"))
                if key is not None and key in self.keys:
                    self.fail(
                        f"{path}.key",
                        where,
                        _("The key %(key)s is already used by %(other)s; each key must be unique.")
                        % {"key": key, "other": self.keys[key]},
                    )
                elif key is not None:
                    self.keys[key] = where
                result["key"] = key
            elif field == "url":
                result["url"] = self.url(button, path, where)
            elif field == "appid":
                appid = self.text(button, "appid", path, where, limit=32, label=_("mini program AppID"))
                if appid is not None and not _MINIPROGRAM_APPID.fullmatch(appid):
                    self.fail(f"{path}.appid", where, _("A mini program's AppID is “wx” and 16 hexadecimal digits."))
                result["appid"] = appid
            else:
                result["pagepath"] = self.text(
                    button, "pagepath", path, where, limit=PAGEPATH_MAX_BYTES, label=_("mini program page")
                )
        return None if any(value is None for value in result.values()) else result

    def unknown(self, button: dict[str, Any], path: str, where: str) -> bool:
        extra = sorted(str(name)[:40] for name in button if name not in _KNOWN)
        if extra:
            self.fail(path, where, _("Unknown fields: %(fields)s.") % {"fields": ", ".join(extra)})
        return bool(extra)

    def sub_buttons(self, value: Any, path: str, where: str, number: int) -> list[dict[str, Any]] | None:
        if not isinstance(value, list):
            self.fail(f"{path}.sub_button", where, _("The sub-buttons must be a list."))
            return None
        if len(value) > MAX_SUB_BUTTONS:
            self.fail(
                f"{path}.sub_button",
                where,
                _("%(count)d sub-buttons; WeChat allows at most %(limit)d.")
                % {"count": len(value), "limit": MAX_SUB_BUTTONS},
            )
            return None
        result = []
        for index, sub in enumerate(value):
            sub_path = f"{path}.sub_button.{index}"
            sub_where = _("Button %(number)d, sub-button %(sub)d") % {"number": number, "sub": index + 1}
            if not isinstance(sub, dict):
                self.fail(sub_path, sub_where, _("A button must be an object."))
                continue
            if self.unknown(sub, sub_path, sub_where):
                continue
            if sub.get("sub_button"):
                self.fail(f"{sub_path}.sub_button", sub_where, _("A sub-button cannot have sub-buttons of its own."))
                continue
            checked = self.action(sub, sub_path, sub_where, name_limit=SUB_NAME_MAX_BYTES)
            if checked is not None:
                result.append(checked)
        return result

    def button(self, button: Any, index: int) -> dict[str, Any] | None:
        path, where = f"button.{index}", _("Button %(number)d") % {"number": index + 1}
        if not isinstance(button, dict):
            self.fail(path, where, _("A button must be an object."))
            return None
        if self.unknown(button, path, where):
            return None
        subs = button.get("sub_button")
        if subs is None or subs == []:
            return self.action(button, path, where, name_limit=NAME_MAX_BYTES)
        if button.get("type") or button.get("key") or button.get("url"):
            self.fail(path, where, _("A button with sub-buttons opens them; it cannot have an action of its own."))
        name = self.text(button, "name", path, where, limit=NAME_MAX_BYTES, label=_("name"))
        checked = self.sub_buttons(subs, path, where, index + 1)
        if name is None or checked is None:
            return None
        return {"name": name, "sub_button": checked}


def menu_normalise(value: Any, *, publishing: bool = False) -> dict[str, Any]:
    """`value` (a menu as the editor or WeChat's menu/get gives it) in WeChat's form, or MenuInvalidError
    listing every rule broken. An empty menu ({"button": []}) is a valid draft but cannot be published."""
    if isinstance(value, dict) and "button" not in value and isinstance(value.get("menu"), dict):
        value = value["menu"]  # menu/get's answer: {"menu": {"button": [...], "menuid": ...}, ...}
    if not isinstance(value, dict) or not isinstance(value.get("button"), list):
        raise _whole(_("A menu is an object whose “button” is a list of buttons."))
    extra = sorted(str(name)[:40] for name in value if name not in ("button", "menuid"))
    if extra:
        raise _whole(_("Unknown fields: %(fields)s.") % {"fields": ", ".join(extra)})
    buttons = value["button"]
    if len(buttons) > MAX_BUTTONS:
        raise MenuInvalidError(
            [
                MenuProblem(
                    "button",
                    "",
                    _("%(count)d buttons; WeChat allows at most %(limit)d.")
                    % {"count": len(buttons), "limit": MAX_BUTTONS},
                )
            ]
        )
    if publishing and not buttons:
        raise _whole(_("Add at least one button. To remove the menu from WeChat, delete it."))
    checker = _Checker()
    result = [checker.button(button, index) for index, button in enumerate(buttons)]
    if checker.problems:
        raise MenuInvalidError(checker.problems)
    return {"button": result}


def menu_is_empty(menu: Any) -> bool:
    return not (isinstance(menu, dict) and menu.get("button"))
