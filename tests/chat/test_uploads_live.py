"""An upload whose connection drops in the middle of its body, against a real server process: nothing is
stored, the server goes on serving, and the retry with the same upload_id is stored once."""

from __future__ import annotations

import io
import socket
import time
import urllib.request
from typing import Any
from urllib.parse import urlsplit

import pytest
from PIL import Image

from chat.models import Attachment
from tests.conftest import login_visitor
from tests.servers import gofly_server

pytestmark = pytest.mark.django_db(transaction=True)


def multipart(upload_id: str, name: str, data: bytes) -> tuple[bytes, str]:
    boundary = "gofly-test-boundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="upload_id"\r\n\r\n{upload_id}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def test_an_upload_cut_off_mid_body_stores_nothing_and_its_retry_is_stored_once(enterprise: Any, tmp_path: Any):
    token = login_visitor(enterprise).token
    out = io.BytesIO()
    Image.effect_noise((700, 700), 80).convert("RGB").save(out, format="PNG")  # about a megabyte
    body, content_type = multipart("cut-1", "noise.png", out.getvalue())
    with gofly_server(env={"MEDIA_ROOT": str(tmp_path / "media")}) as base:
        host, port = urlsplit(base).hostname, urlsplit(base).port or 80
        with socket.create_connection((host, port)) as raw:
            head = (
                f"POST /api/v1/visitor/uploads HTTP/1.1\r\nHost: {host}:{port}\r\n"
                f"Authorization: Visitor {token}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            ).encode()
            raw.sendall(head + body[: len(body) // 2])  # then the network goes away
        time.sleep(1)
        assert Attachment.objects.count() == 0
        answers = []
        for _ in range(2):  # the retry, and a retry of the retry
            request = urllib.request.Request(
                f"{base}/api/v1/visitor/uploads",
                data=body,
                headers={"Authorization": f"Visitor {token}", "Content-Type": content_type},
            )
            with urllib.request.urlopen(request, timeout=10) as response:
                answers.append(response.status)
    assert answers == [201, 200]
    assert Attachment.objects.count() == 1
    stored = Attachment.objects.get()
    assert (stored.upload_id, stored.width, stored.height) == ("cut-1", 700, 700)
    files = [p for p in (tmp_path / "media").rglob("*") if p.is_file()]
    assert len(files) == 2  # the image and its thumbnail, once
