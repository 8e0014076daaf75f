"""Many large images uploaded at the same moment to a real server process: its memory stays within the
bound the README states (GOFLY_IMAGE_DECODES images decoded at once), each upload is answered either
stored or 503 `busy` with Retry-After, and every uploader that retries gets its image stored."""

from __future__ import annotations

import io
import os
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from PIL import Image, ImageDraw

from chat.models import Attachment
from tests.chat.test_uploads_live import multipart
from tests.conftest import login_visitor
from tests.servers import gofly_server

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

UPLOADERS = 50
PIXELS = 12_000_000  # the server's pixel limit in this test, and the images' size: each is decoded whole
MB = 1024 * 1024


def big_png() -> bytes:
    """4000 x 3000 pixels in about 60 kB: cheap to send, expensive to decode."""
    image = Image.new("RGB", (4000, 3000), (200, 30, 30))
    ImageDraw.Draw(image).rectangle((100, 100, 2000, 2000), fill=(0, 0, 255))
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def memory_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for {pid}")


def test_fifty_parallel_uploads_of_large_images_keep_the_process_within_its_memory_bound(
    enterprise: Any, tmp_path: Any
):
    tokens = [login_visitor(enterprise, ip=f"198.51.100.{n}").token for n in range(UPLOADERS)]
    body, content_type = multipart("big-1", "big.png", big_png())
    env = {
        "MEDIA_ROOT": str(tmp_path / "media"),
        "GOFLY_UPLOAD_MAX_PIXELS": str(PIXELS),
        "GOFLY_IMAGE_DECODES": os.environ.get("GOFLY_TEST_BREAK_DECODES", "2"),
        "GOFLY_IMAGE_DECODE_WAIT": "3",
    }
    first_answers: list[tuple[int, str | None]] = []
    stored: list[int] = []
    errors: list[str] = []
    lock = threading.Lock()
    with gofly_server(env=env) as base:
        pid = int((Path(settings.VAR_DIR) / f"gofly-{urlsplit(base).port}.pid").read_text().split()[0])
        baseline = memory_kb(pid, "VmRSS")
        start = threading.Barrier(UPLOADERS)

        def uploader(token: str) -> None:
            start.wait()
            deadline = time.monotonic() + 120
            first = True
            while time.monotonic() < deadline:
                request = urllib.request.Request(
                    f"{base}/api/v1/visitor/uploads",
                    data=body,
                    headers={"Authorization": f"Visitor {token}", "Content-Type": content_type},
                )
                try:
                    with urllib.request.urlopen(request, timeout=60) as response:
                        status, retry_after = response.status, None
                except urllib.error.HTTPError as exc:
                    status, retry_after = exc.code, exc.headers.get("Retry-After")
                    code = exc.read().decode()
                    if status != 503 or '"busy"' not in code:
                        with lock:
                            errors.append(f"{status} {code}")
                        return
                with lock:
                    if first:
                        first_answers.append((status, retry_after))
                    if status in (200, 201):
                        stored.append(status)
                        return
                first = False
                time.sleep(0.5)  # a client honours Retry-After; the test keeps it short
            with lock:
                errors.append("never stored")

        threads = [threading.Thread(target=uploader, args=(token,)) for token in tokens]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(180)
        peak = memory_kb(pid, "VmHWM")
        after = memory_kb(pid, "VmRSS")
    grown, kept = (peak - baseline) // 1024, (after - baseline) // 1024
    print(f"memory: {baseline // 1024} MB at the start, peak +{grown} MB, after +{kept} MB")
    assert errors == []
    assert len(stored) == UPLOADERS and Attachment.objects.count() == UPLOADERS
    # Each first answer is "stored" or "busy, retry after N s"; some were busy (2 slots, 50 uploads).
    assert {answer for answer in first_answers} <= {(201, None), (503, "5")}
    assert (503, "5") in first_answers
    # The bound (README, GOFLY_IMAGE_DECODES): 2 decodes x (12 Mpx x 4 bytes + about 20 MB of encoders), plus
    # room for 50 requests in flight; before the slots, 50 decodes at once took 50 x 200 MB and more.
    bound = 2 * (PIXELS * 4 + 20 * MB) + 60 * MB
    assert (peak - baseline) * 1024 < bound, f"grew {(peak - baseline) // 1024} MB, bound {bound // MB} MB"
    # and what the decodes took is given back afterwards
    assert (after - baseline) * 1024 < 80 * MB, f"still {(after - baseline) // 1024} MB above the start"
