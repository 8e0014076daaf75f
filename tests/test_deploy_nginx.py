"""The documented nginx deployment, end to end: `manage.py collectstatic` into a STATIC_ROOT of its own, Debian's
nginx with the /static/ and proxy rules of deploy/nginx/gofly.conf (TLS left out) and an unprivileged worker,
in front of a GoFly server with GOFLY_SERVE_STATIC=0. Every static file must be readable by that worker, not
only by the user who collected them (0640 files answered 403), and come gzipped with the cache headers of
their names."""

from __future__ import annotations

import grp
import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import AGENT_PASSWORD
from tests.servers import LIVE_ARTIFACTS, ROOT, free_port, gofly_server, listening

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

NGINX = Path("/usr/sbin/nginx")
SHIPPED = ROOT / "deploy" / "nginx" / "gofly.conf"
HASHED = re.compile(r"\.[0-9a-f]{12}\.[A-Za-z0-9]+$")  # ManifestStaticFilesStorage's names, as the config's map


def nginx_or_skip() -> None:
    if NGINX.exists():
        return
    if os.environ.get("CI"):
        pytest.fail(f"{NGINX} is missing: scripts/setup-test-env.sh installs nginx-light")
    pytest.skip(f"{NGINX} is not installed (apt-get install nginx-light)")


def sub(pattern: str, replacement: str, text: str, count: int | None = 1, flags: int = re.M) -> str:
    """re.subn that fails when the shipped config no longer has what the test replaces."""
    result, n = re.subn(pattern, lambda _: replacement, text, flags=flags)
    if n == 0 or (count is not None and n != count):
        raise AssertionError(f"deploy/nginx/gofly.conf: {pattern!r} matched {n} times, not {count or 'some'}")
    return result


def site_config(*, port: int, upstream: int, static_root: Path) -> str:
    """deploy/nginx/gofly.conf as it ships, but on 127.0.0.1:port over plain http, one upstream process and
    this STATIC_ROOT: every location, map and header rule is the shipped one."""
    text = SHIPPED.read_text()
    text = sub(r"^\s*server \S+ max_fails=.*;\n", "", text, count=None)  # the upstream's examples
    text = sub(r"^(upstream gofly \{\n)", f"upstream gofly {{\n    server 127.0.0.1:{upstream};\n", text)
    text = sub(r"^server \{\n(?:(?!^\}).)*?listen 80;.*?^\}\n", "", text, flags=re.M | re.S)  # http -> https
    text = sub(r"^\s*listen 443 ssl http2;$", f"    listen 127.0.0.1:{port};", text)
    text = sub(r"^\s*listen \[::\]:443 ssl http2;\n", "", text)
    text = sub(r"^\s*ssl_\w+ .*;\n", "", text, count=None)
    return sub(r"alias /srv/gofly/staticfiles/;", f"alias {static_root}/;", text)


def main_config(prefix: Path, site: str) -> str:
    """What Debian's /etc/nginx/nginx.conf gives conf.d/, with everything nginx writes kept in `prefix`."""
    user = ""
    if os.geteuid() == 0:  # CI: the master is root, the worker must not be (as Debian's www-data)
        nobody = pwd.getpwnam("nobody")
        user = f"user {nobody.pw_name} {grp.getgrgid(nobody.pw_gid).gr_name};"
    temp = "\n".join(
        f"    {kind}_temp_path {prefix / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""{user}
worker_processes 1;
daemon off;
pid {prefix / "nginx.pid"};
error_log {prefix / "error.log"} warn;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    sendfile on;
    access_log {prefix / "access.log"};
{temp}
{site}
}}
"""


class Deployment:
    def __init__(self, base: Path, static_root: Path, nginx_url: str, upstream: int) -> None:
        self.base = base
        self.static_root = static_root
        self.url = nginx_url
        self.upstream = upstream

    def manifest(self) -> dict[str, str]:
        """Source name -> hashed name, from collectstatic's manifest."""
        return json.loads((self.static_root / "staticfiles.json").read_text())["paths"]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def deployment() -> Iterator[Deployment]:
    """collectstatic (as root with a strict umask, as a hardened shell has it) into a STATIC_ROOT under a
    0755 directory, as /srv/gofly is; nginx in front of a GoFly port that the tests fill."""
    nginx_or_skip()
    base = Path(tempfile.mkdtemp(prefix="gofly-nginx-"))
    try:
        base.chmod(0o755)
        static_root = base / "staticfiles"
        env = {**os.environ, "STATIC_ROOT": str(static_root), "GOFLY_SERVE_STATIC": "0"}
        collected = subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--noinput"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            umask=0o027,
        )
        assert collected.returncode == 0, collected.stderr
        prefix = base / "nginx"
        prefix.mkdir(mode=0o755)
        port, upstream = free_port(), free_port()
        conf = prefix / "nginx.conf"
        conf.write_text(main_config(prefix, site_config(port=port, upstream=upstream, static_root=static_root)))
        proc = subprocess.Popen(
            [str(NGINX), "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 15
            while not listening(port):
                if proc.poll() is not None or time.monotonic() > deadline:
                    log = (prefix / "error.log").read_text() if (prefix / "error.log").exists() else ""
                    out = proc.stdout.read().decode() if proc.stdout and proc.poll() is not None else ""
                    raise AssertionError(f"nginx did not start (exit {proc.poll()}):\n{out}\n{log}")
                time.sleep(0.05)
            yield Deployment(base, static_root, f"http://127.0.0.1:{port}", upstream)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if (prefix / "error.log").exists():
                LIVE_ARTIFACTS.mkdir(parents=True, exist_ok=True)
                shutil.copy(prefix / "error.log", LIVE_ARTIFACTS / "nginx-error.log")
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def gofly(deployment: Deployment) -> Iterator[str]:
    """GoFly behind that nginx, as gofly.env has it: nginx serves /static/, GoFly reads the same manifest."""
    env = {"GOFLY_SERVE_STATIC": "0", "STATIC_ROOT": str(deployment.static_root)}
    with gofly_server(env=env, port=deployment.upstream, log=LIVE_ARTIFACTS / "nginx-gofly.log") as base:
        yield base


def get(url: str, *, gzip: bool = True, **headers: str) -> tuple[httpx.Response, int]:
    """The answer, decoded, and how many bytes its body took on the wire."""
    headers = {"Accept-Encoding": "gzip" if gzip else "identity", **headers}
    with httpx.stream("GET", url, headers=headers, timeout=10) as response:
        wire = sum(len(chunk) for chunk in response.iter_raw())
    with httpx.Client(timeout=10) as http:
        decoded = http.get(url, headers=headers)
    return decoded, wire


def test_collectstatic_leaves_every_file_readable_by_nginxs_worker(deployment):
    unreadable = [
        f"{oct(path.stat().st_mode & 0o777)} {path.relative_to(deployment.static_root)}"
        for path in [deployment.static_root, *deployment.static_root.rglob("*")]
        if (path.stat().st_mode & (0o005 if path.is_dir() else 0o004)) != (0o005 if path.is_dir() else 0o004)
    ]
    assert unreadable == []


def test_the_widget_loader_through_nginx_gzipped_at_its_fixed_url_with_a_short_cache_life(deployment, gofly):
    source = (deployment.static_root / "js" / "gofly-front.js").read_bytes()  # as collected
    response, wire = get(f"{deployment.url}/static/js/gofly-front.js")
    assert response.status_code == 200, response.text[:300]
    assert response.headers["content-encoding"] == "gzip"
    assert "Accept-Encoding" in response.headers["vary"]
    assert response.headers["cache-control"] == "public, max-age=300"  # customers' pages pick up new versions
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "javascript" in response.headers["content-type"]
    assert response.content == source
    assert wire < len(source) / 2
    plain, plain_wire = get(f"{deployment.url}/static/js/gofly-front.js", gzip=False)
    assert plain.status_code == 200 and "content-encoding" not in plain.headers
    assert plain.content == source and plain_wire == len(source)
    print(f"\nwidget loader through nginx: {len(source)} bytes, {wire} gzipped")


def sign_in(http: httpx.Client) -> httpx.Response:
    """The agent's console page, after the login form (CSRF token and all) through nginx."""
    login = http.get("/login")
    assert login.status_code == 200, login.text[:300]
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text)
    assert token
    console = http.post(
        "/login",
        data={"username": "kefu2", "password": AGENT_PASSWORD, "csrfmiddlewaretoken": token.group(1)},
        follow_redirects=True,
    )
    assert console.status_code == 200 and console.url.path == "/console", console.text[:300]
    return console


def test_the_console_scripts_through_nginx_by_their_hashed_names_gzipped_and_immutable(deployment, gofly, agent):
    sources = {f"/static/{hashed}": name for name, hashed in deployment.manifest().items()}
    with httpx.Client(base_url=deployment.url, timeout=10) as http:
        scripts = re.findall(r'<script src="(/static/js/[^"]+)"', sign_in(http).text)
    assert any("/console" in url for url in scripts), scripts
    for url in scripts:
        assert url in sources, f"{url} is not a hashed name of the manifest"
        response, wire = get(deployment.url + url)
        assert response.status_code == 200, url
        assert response.headers["content-encoding"] == "gzip", url
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert response.content == (deployment.static_root / url.removeprefix("/static/")).read_bytes()
        assert wire < len(response.content), url


def test_the_pages_through_nginx_link_hashed_scripts_and_styles_that_nginx_serves(deployment, gofly, enterprise, agent):
    with httpx.Client(base_url=deployment.url, timeout=10) as http:
        pages = [http.get(f"/chatIndex?kefu_id=kefu2&ent_id={enterprise.pk}"), http.get("/login"), sign_in(http)]
        for page in pages:
            assert page.status_code == 200, page.text[:300]
            assets = re.findall(r'<(?:script src|link rel="stylesheet" href)="([^"]+)"', page.text)
            assert assets and all(HASHED.search(url) for url in assets), assets
            for url in sorted(set(re.findall(r"/static/[^\"'\s<>\\]+", page.text))):
                served = http.get(url, headers={"Accept-Encoding": "gzip"})
                assert served.status_code == 200, url
                immutable = "immutable" in served.headers["cache-control"]
                assert immutable == bool(HASHED.search(url)), (url, served.headers["cache-control"])
