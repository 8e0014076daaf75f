"""The product a visitor looks at (`extra.visitorProduct` at login, the original widget's GOFLY_EXTRA): checked
and normalised before it is stored, shown to agents, or pinned on the visitor's page as a card to send."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urljoin, urlsplit

PRODUCT_KEY = "visitorProduct"
TITLE_MAX = 200
PRICE_MAX = 50
URL_MAX = 1000
# Besides an http(s) scheme: nothing a browser would read differently from what we checked.
_URL_UNSAFE = re.compile(r"[\s<>\"'`\\\x00-\x1f\x7f]")


def _text(value: Any, limit: int, *, numbers: bool = False) -> str | None:
    """A short text field: a string (a number too, where `numbers`: a price), trimmed; None if too long."""
    if isinstance(value, bool) or value is None:
        return "" if value is None else None
    if numbers and isinstance(value, (int, float)):
        value = json.dumps(value)
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value if len(value) <= limit else None


def _url(value: Any, base: str) -> str | None:
    """An http(s) URL, a relative one made absolute against `base` (the page the visitor is on: relative
    URLs are the operator's site's, not ours), "" for none; None for anything else."""
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or len(value.strip()) > URL_MAX or _URL_UNSAFE.search(value.strip()):
        return None
    value = value.strip()
    if urlsplit(value).scheme == "" and not value.startswith("//"):
        if not base:
            return None  # relative to a page we do not know
        value = urljoin(base, value)
    elif value.startswith("//"):
        value = "https:" + value
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or len(value) > URL_MAX:
        return None
    return value


def product_clean(value: Any, *, base: str = "") -> dict[str, str] | None:
    """`{"title", "price", "img", "url"}` (strings; title not empty) from what a page sent, or None when it is
    not a product we can show: not an object, no title, a field too long or of the wrong type, an image or
    link that is not http(s) (a relative one needs `base`, an http(s) URL)."""
    if not isinstance(value, dict):
        return None
    base_parts = urlsplit(base) if isinstance(base, str) and len(base) <= URL_MAX else None
    base = base if base_parts and base_parts.scheme in ("http", "https") and base_parts.hostname else ""
    title = _text(value.get("title"), TITLE_MAX)
    price = _text(value.get("price"), PRICE_MAX, numbers=True)
    img = _url(value.get("img"), base)
    url = _url(value.get("url"), base)
    if not title or price is None or img is None or url is None:
        return None
    return {"title": title, "price": price, "img": img, "url": url}


def extra_with_product(extra: dict[str, Any], *, base: str) -> tuple[dict[str, Any], dict[str, str] | None]:
    """`extra` with its product normalised, or without it when it is not a product (the rest of `extra` is
    kept: a bad product must not cost the visitor their chat); and that product."""
    if PRODUCT_KEY not in extra:
        return extra, None
    product = product_clean(extra[PRODUCT_KEY], base=base)
    rest = {key: value for key, value in extra.items() if key != PRODUCT_KEY}
    return ({**rest, PRODUCT_KEY: product} if product else rest), product


def product_message(product: dict[str, str]) -> str:
    """The message text of a product card, as the original writes it: `product[{"title":..,...}]`."""
    return "product[" + json.dumps(product, ensure_ascii=False, separators=(",", ":")) + "]"
