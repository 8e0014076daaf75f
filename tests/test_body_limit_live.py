"""An oversized request body is refused before it is read, by a real server process under daphne and
uvicorn: an announced length at once (no `100 Continue`), a chunked body as it passes the limit, with
nothing of it held in memory or on disk; bodies under the limit and websockets work as before."""

from __future__ import annotations

import io
import os
import select
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from PIL import Image

from core.bodylimit import too_large_messages
from tests.servers import free_port, start_server, stop_server, wait_listening

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

MB = 1024 * 1024
LIMIT = 2 * MB  # GOFLY_UPLOAD_MAX_MB=1, plus core.bodylimit's 1 MB of slack
SERVERS = ["daphne", "uvicorn"]


@dataclass
class Server:
    port: int
    proc: subprocess.Popen[bytes]
    tmp: Path  # the process's TMPDIR

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def status(self, key: str) -> int:
        """A size from /proc/<pid>/status (VmRSS, VmHWM), in bytes."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1]) * 1024
        raise KeyError(key)

    def temp_bytes(self) -> int:
        """Bytes in the files of its TMPDIR the process holds open (deleted ones included: a request body's
        TemporaryFile has no name) or that are left there."""
        held = 0
        for fd in Path(f"/proc/{self.proc.pid}/fd").iterdir():
            try:
                if os.readlink(fd).startswith(str(self.tmp)):
                    held += fd.stat().st_size
            except OSError:  # closed meanwhile
                continue
        return held + sum(p.stat().st_size for p in self.tmp.rglob("*") if p.is_file())


@contextmanager
def running(server: str, tmp: Path) -> Iterator[Server]:
    for sub in ("tmp", "media"):
        (tmp / sub).mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {"GOFLY_UPLOAD_MAX_MB": "1", "TMPDIR": str(tmp / "tmp"), "MEDIA_ROOT": str(tmp / "media")}
    proc = start_server(port, env=env, server=server, log=tmp / "server.log")
    try:
        wait_listening(proc, port)
        yield Server(port, proc, tmp / "tmp")
    finally:
        stop_server(proc)


@pytest.fixture(scope="module")
def servers(django_db_setup: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Server]]:
    """One daphne and one uvicorn process for the module's tests (the RSS test starts its own)."""
    with (
        running("daphne", tmp_path_factory.mktemp("daphne")) as daphne,
        running("uvicorn", tmp_path_factory.mktemp("uvicorn")) as uvicorn,
    ):
        yield {"daphne": daphne, "uvicorn": uvicorn}


def request_head(port: int, *headers: str) -> bytes:
    lines = ["POST /api/v1/visitor/uploads HTTP/1.1", f"Host: 127.0.0.1:{port}", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def read_until_closed(sock: socket.socket, timeout: float = 5) -> bytes:
    sock.settimeout(timeout)
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except (TimeoutError, ConnectionResetError):
            return data
        if not chunk:
            return data
        data += chunk


def assert_too_large(answer: bytes) -> None:
    """The answer core.bodylimit gives: the same status, headers and body, whichever path gave it."""
    start, body = too_large_messages()
    head, _, content = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = head.split(b"\r\n")
    assert status_line.split(b" ")[:2] == [b"HTTP/1.1", b"413"], answer[:200]
    headers = {tuple(line.lower().split(b": ", 1)) for line in header_lines}
    assert set(start["headers"]) <= headers
    assert content == body["body"]
    assert b'"code":"too_large"' in content


@pytest.mark.parametrize("server", SERVERS)
def test_a_body_announced_too_large_is_refused_at_once_without_being_sent(servers, server):
    port = servers[server].port
    with socket.create_connection(("127.0.0.1", port)) as sock:
        started = time.monotonic()
        sock.sendall(request_head(port, "Content-Type: application/octet-stream", f"Content-Length: {60 * MB}"))
        sock.settimeout(5)
        first = sock.recv(65536)  # nothing of the body is ever sent
        took = time.monotonic() - started
        answer = first + read_until_closed(sock)
    assert took < 2, f"the 413 took {took:.2f} s"
    assert_too_large(answer)  # and the connection was closed after it


@pytest.mark.parametrize("server", SERVERS)
def test_a_body_announced_too_large_with_expect_100_continue_gets_the_413_and_no_continue(servers, server):
    port = servers[server].port
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(request_head(port, f"Content-Length: {60 * MB}", "Expect: 100-continue"))
        answer = read_until_closed(sock)
    assert b"100 Continue" not in answer
    assert_too_large(answer)


@pytest.mark.parametrize("server", SERVERS)
def test_a_chunked_body_is_refused_as_it_passes_the_limit_and_nothing_of_it_is_held(server, tmp_path):
    total = 50 * MB
    piece = b"y" * 65536
    frame = b"%x\r\n" % len(piece) + piece + b"\r\n"

    def stream(srv: Server, size: int) -> tuple[int, int, bytes]:
        """Send a chunked body of `size` bytes as long as the server takes it; return how much was sent
        when its answer became readable, the most its TMPDIR held meanwhile, and the answer."""
        answered_at, held = None, 0
        with socket.create_connection(("127.0.0.1", srv.port)) as sock:
            sock.sendall(request_head(srv.port, "Transfer-Encoding: chunked"))
            sock.settimeout(10)
            sent = 0
            try:
                while sent < size:
                    if answered_at is None and select.select([sock], [], [], 0)[0]:
                        answered_at = sent
                    sock.sendall(frame)
                    sent += len(piece)
                    if sent % MB == 0:
                        held = max(held, srv.temp_bytes())
                sock.sendall(b"0\r\n\r\n")
            except OSError:  # closed by the server (uvicorn at once, daphne after a linger)
                pass
            answer = read_until_closed(sock, 10)
        return (sent if answered_at is None else answered_at), held, answer

    with running(server, tmp_path) as srv:
        stream(srv, 3 * MB)  # the first requests load code: measure from a warm process
        peak_before = srv.status("VmHWM")
        answered_at, held, answer = stream(srv, total)
        time.sleep(0.5)
        grown = srv.status("VmHWM") - peak_before
        held_after = srv.temp_bytes()
    assert_too_large(answer)
    assert answered_at < total // 2, f"answered after {answered_at / MB:.1f} MB of {total / MB:.0f} MB"
    assert grown < 16 * MB, f"peak RSS grew by {grown / MB:.1f} MB"
    assert held <= LIMIT and held_after == 0, f"temporary files held {held / MB:.1f} MB, {held_after} B after"


def test_a_client_that_sends_its_whole_body_before_reading_still_reads_the_413_under_daphne(servers):
    # Python's http.client reads no answer before its body is sent: a socket closed while the body is still
    # coming in would give it "broken pipe"; daphne reads and drops the rest instead (a lingering close).
    request = urllib.request.Request(
        f"{servers['daphne'].base}/api/v1/visitor/uploads",
        data=b"z" * (20 * MB),
        headers={"Content-Type": "application/octet-stream"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 413
    assert refused.value.read() == too_large_messages()[1]["body"]


@pytest.mark.parametrize("server", SERVERS)
def test_bodies_under_the_limit_are_read_and_answered_as_before(servers, server, enterprise, agent):
    base = servers[server].base
    image = io.BytesIO()
    Image.effect_noise((300, 300), 80).convert("RGB").save(image, format="PNG")  # ~270 kB: over twisted's 100 kB
    with httpx.Client(base_url=base, timeout=10) as http:
        login = http.post("/api/v1/visitor/login", json={"ent_id": enterprise.pk, "kefu_id": "kefu2"})
        assert login.status_code == 200, login.text
        upload = http.post(
            "/api/v1/visitor/uploads",
            headers={"Authorization": f"Visitor {login.json()['token']}"},
            data={"upload_id": f"small-{server}"},
            files={"file": ("noise.png", image.getvalue(), "image/png")},
        )
    assert upload.status_code == 201, upload.text
    assert (upload.json()["attachment"]["width"], upload.json()["attachment"]["height"]) == (300, 300)


@pytest.mark.parametrize("server", SERVERS)
async def test_a_websocket_still_connects_and_without_a_token_is_closed_with_4401(servers, server):
    url = f"ws://127.0.0.1:{servers[server].port}/ws/visitor"
    async with websockets.connect(url) as ws:  # the handshake is accepted
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
