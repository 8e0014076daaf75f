"""Static files in the embedded mode (GOFLY_SERVE_STATIC=1): pages link hashed names, WhiteNoise's middleware
answers them gzipped and cached for a year while the widget loader keeps its fixed URL and a short cache
life; STATIC_ROOT is collected on install and whenever it is out of date, into files that others (nginx's
worker) can read whatever the umask. The nginx side is tests/test_deploy_nginx.py."""

from __future__ import annotations

import gzip
import json
import os
import re
import stat
import time
from io import StringIO
from pathlib import Path
from typing import Any

import httpx
import pytest
from channels.testing import HttpCommunicator
from django.conf import settings
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.template import Context, Template

from gofly_site import staticfiles
from tests.servers import ROOT, gofly_server

SOURCE = ROOT / "static" / "js" / "gofly-front.js"
LOADER = Path(settings.STATIC_ROOT) / "js" / "gofly-front.js"  # as collected (the source may be edited meanwhile)
HASHED = re.compile(r"\.[0-9a-f]{12}\.[A-Za-z0-9]+$")
YEAR = "max-age=31536000, public, immutable"
SHORT = "max-age=300, public"


async def asgi_get(path: str, *, method: str = "GET", **headers: str) -> tuple[int, dict[str, str], bytes]:
    """`path` from the ASGI application that `manage.py server` runs."""
    from gofly_site.asgi import application

    raw = [(b"host", b"127.0.0.1"), *((name.replace("_", "-").encode(), v.encode()) for name, v in headers.items())]
    response = await HttpCommunicator(application, method, path, headers=raw).get_response()
    answer = {name.decode().lower(): value.decode() for name, value in response["headers"]}
    return response["status"], answer, response["body"]


def static_url(name: str) -> str:
    return Template("{% load static %}{% static name %}").render(Context({"name": name}))


async def test_the_widget_loader_keeps_its_fixed_url_gzipped_with_a_short_cache_life():
    status, headers, body = await asgi_get("/static/js/gofly-front.js", accept_encoding="gzip, deflate, br")
    assert status == 200
    assert headers["content-encoding"] == "gzip"
    assert headers["vary"] == "Accept-Encoding"
    assert headers["cache-control"] == SHORT  # customers embed this URL: new versions reach them in 5 minutes
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["content-type"].startswith("text/javascript")
    assert gzip.decompress(body) == LOADER.read_bytes()
    assert int(headers["content-length"]) == len(body) < LOADER.stat().st_size / 2
    status, headers, body = await asgi_get("/static/js/gofly-front.js")
    assert status == 200 and "content-encoding" not in headers and body == LOADER.read_bytes()
    status, headers, body = await asgi_get("/static/js/gofly-front.js", if_none_match=headers["etag"])
    assert status == 304 and body == b""


async def test_a_hashed_name_is_served_gzipped_and_cached_for_a_year():
    url = static_url("js/gofly-front.js")
    assert HASHED.search(url), url
    status, headers, body = await asgi_get(url, accept_encoding="gzip")
    assert status == 200 and headers["cache-control"] == YEAR
    assert gzip.decompress(body) == LOADER.read_bytes()


async def test_head_answers_the_headers_only_and_other_methods_or_unknown_files_are_refused():
    status, headers, body = await asgi_get("/static/js/gofly-front.js", method="HEAD")
    assert status == 200 and body == b"" and int(headers["content-length"]) == LOADER.stat().st_size
    status, headers, _ = await asgi_get("/static/js/gofly-front.js", method="POST")
    assert status == 405 and headers["allow"] == "GET, HEAD"
    for path in ("/static/js/nothing-here.js", "/static/", "/static/js/gofly-front.js/x"):
        assert (await asgi_get(path))[0] == 404, path


@pytest.mark.django_db
def test_the_pages_link_hashed_scripts_and_styles(client, enterprise, agent):
    from asgiref.sync import async_to_sync

    page = client.get(f"/chatIndex?kefu_id=kefu2&ent_id={enterprise.pk}")
    assert page.status_code == 200
    assets = re.findall(r'<(?:script src|link rel="stylesheet" href)="([^"]+)"', page.content.decode())
    assert assets and all(url.startswith("/static/") and HASHED.search(url) for url in assets), assets
    for url in assets:
        status, headers, _ = async_to_sync(asgi_get)(url)
        assert status == 200 and headers["cache-control"] == YEAR, url
    # The pictures and sounds the scripts load, handed to them by _boot.html.
    boot = re.search(r'<script id="gofly-assets"[^>]*>(.*?)</script>', page.content.decode(), re.S)
    assert boot
    assets = json.loads(boot[1])
    assert assets and all(url.startswith("/static/") and HASHED.search(url) for url in assets.values()), assets
    for url in assets.values():
        assert async_to_sync(asgi_get)(url)[0] == 200, url


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_the_embedded_server_sends_the_loader_gzipped_on_the_wire():
    raw = LOADER.stat().st_size
    with gofly_server() as base:
        wire = {}
        for encoding in ("gzip", "identity"):
            with httpx.stream(
                "GET", f"{base}/static/js/gofly-front.js", headers={"Accept-Encoding": encoding}, timeout=10
            ) as response:
                assert response.status_code == 200
                assert response.headers.get("content-encoding", "identity") == encoding
                assert response.headers["cache-control"] == SHORT
                wire[encoding] = sum(len(chunk) for chunk in response.iter_raw())
    assert wire["identity"] == raw and wire["gzip"] < raw / 2
    print(f"\nwidget loader from the embedded server: {raw} bytes, {wire['gzip']} gzipped")


def modes(root: Path) -> dict[str, int]:
    return {str(path.relative_to(root)): stat.S_IMODE(path.stat().st_mode) for path in [root, *sorted(root.rglob("*"))]}


def test_collectstatic_writes_files_nginx_can_read_whatever_the_umask_while_uploads_stay_private(settings, tmp_path):
    settings.STATIC_ROOT = tmp_path / "staticfiles"
    # A file an older collectstatic left 0640 and that this one does not copy again (not modified since).
    left = settings.STATIC_ROOT / "js" / "gofly-front.js"
    left.parent.mkdir(parents=True)
    left.write_bytes(SOURCE.read_bytes())
    left.chmod(0o640)
    os.utime(left, (time.time() + 3600, time.time() + 3600))
    umask = os.umask(0o077)
    try:
        call_command("collectstatic", interactive=False, verbosity=0)
    finally:
        os.umask(umask)
    found = modes(settings.STATIC_ROOT)
    assert {"js/gofly-front.js", "js/gofly-front.js.gz", "staticfiles.json"} <= found.keys()
    hashed = json.loads((settings.STATIC_ROOT / "staticfiles.json").read_text())["paths"]["js/gofly-front.js"]
    assert {hashed, f"{hashed}.gz"} <= found.keys()
    wrong = {
        name: oct(mode)
        for name, mode in found.items()
        if mode != (0o755 if (settings.STATIC_ROOT / name).is_dir() else 0o644)
    }
    assert wrong == {}
    uploads: Any = default_storage
    assert uploads.file_permissions_mode == 0o640  # uploads: still the owner's and its group's
    assert uploads.directory_permissions_mode == 0o750


@pytest.fixture
def sources(settings: Any, tmp_path: Path) -> Path:
    """A STATIC_ROOT fed from one small directory only, so that collecting it takes no time."""
    source = tmp_path / "src"
    (source / "js").mkdir(parents=True)
    (source / "js" / "a.js").write_text("console.log('a');\n" * 50)
    settings.STATICFILES_DIRS = [source]
    settings.STATICFILES_FINDERS = ["django.contrib.staticfiles.finders.FileSystemFinder"]
    settings.STATIC_ROOT = tmp_path / "staticfiles"
    settings.VAR_DIR = tmp_path
    return source


def test_static_files_are_collected_when_missing_changed_or_added_and_only_then(sources, settings):
    manifest = settings.STATIC_ROOT / "staticfiles.json"
    out = StringIO()
    assert staticfiles.collect_if_stale(out) and manifest.exists()
    assert f"Collected the static files into {settings.STATIC_ROOT}" in out.getvalue()
    assert not staticfiles.collect_if_stale()
    (sources / "js" / "a.js").write_text("console.log('a, changed');\n" * 50)
    later = time.time() + 3600  # a date ahead of the clock (a copy from another machine) is no loop
    os.utime(sources / "js" / "a.js", (later, later))
    assert staticfiles.collect_if_stale() and not staticfiles.collect_if_stale()
    assert "js/b.js" not in json.loads(manifest.read_text())["paths"]
    (sources / "js" / "b.js").write_text("console.log('b');\n")
    os.utime(sources / "js" / "b.js", (0, 0))  # copied with its old date: new all the same
    assert staticfiles.collect_if_stale()
    assert "js/b.js" in json.loads(manifest.read_text())["paths"]
    manifest.unlink()
    assert staticfiles.collect_if_stale() and manifest.exists()


@pytest.mark.django_db
def test_install_collects_the_static_files_even_when_already_installed(sources, settings):
    assert not (settings.STATIC_ROOT / "staticfiles.json").exists()
    out = StringIO()
    call_command("install", "--noinput", "--if-missing", stdout=out)
    assert (settings.STATIC_ROOT / "staticfiles.json").exists()
    again = StringIO()
    call_command("install", "--noinput", "--if-missing", stdout=again)
    assert "Already installed" in again.getvalue() and "Collected" not in again.getvalue()
    (sources / "js" / "c.js").write_text("console.log('c');\n")
    third = StringIO()
    call_command("install", "--noinput", "--if-missing", stdout=third)
    assert "Collected the static files" in third.getvalue() and "Already installed" in third.getvalue()


def test_the_server_collects_at_start_when_static_root_is_out_of_date(sources, settings, monkeypatch):
    monkeypatch.setattr(staticfiles, "_checked", False)
    middleware = staticfiles.StaticFilesMiddleware(lambda request: None)
    assert (settings.STATIC_ROOT / "staticfiles.json").exists()
    assert "/static/js/a.js" in middleware.files


def test_in_debug_the_files_are_served_from_the_sources_by_their_own_names(client, settings):
    settings.DEBUG = True
    assert static_url("js/gofly-front.js") == "/static/js/gofly-front.js"
    response = client.get("/static/js/gofly-front.js")
    assert response.status_code == 200 and response.content == SOURCE.read_bytes()
    assert client.get("/static/js/../../gofly_site/settings.py").status_code == 404
