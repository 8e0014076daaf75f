"""Uploads (chat.uploads): type by content, re-encoded images, refused markup and programs, limits, retries
stored once, tenant scoping, the message that sends an upload, and how /media/ serves it."""

from __future__ import annotations

import io
import json
import threading
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from PIL import Image
from rest_framework.test import APIClient

from chat import frames, services
from chat.models import Attachment, Message
from chat.uploads import upload_store
from core import files
from core.bodylimit import BodyLimit
from core.errors import ChatError
from tests.conftest import login_visitor

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "media")


def png(width: int = 64, height: int = 48, color: tuple[int, int, int] = (200, 30, 30), **save: Any) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, format="PNG", **save)
    return out.getvalue()


def jpeg(width: int = 64, height: int = 48, exif: bytes | None = None) -> bytes:
    out = io.BytesIO()
    image = Image.new("RGB", (width, height), (10, 120, 200))
    image.save(out, format="JPEG", **({"exif": exif} if exif else {}))
    return out.getvalue()


def visitor_client(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Visitor {token}")
    return client


def agent_client(agent: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(agent)
    return client


def upload(client: APIClient, url: str, name: str, data: bytes, upload_id: str = "u-1", **extra: Any) -> Any:
    return client.post(
        url, {"file": SimpleUploadedFile(name, data, content_type="image/png"), "upload_id": upload_id, **extra},
        format="multipart",
    )  # fmt: skip


@pytest.fixture
def visitor_login(enterprise: Any, agent: Any) -> Any:
    return login_visitor(enterprise, agent)


def stored_files() -> list[str]:
    found: list[str] = []

    def walk(path: str) -> None:
        dirs, files = default_storage.listdir(path)
        found.extend(f"{path}/{name}" for name in files)
        for name in dirs:
            walk(f"{path}/{name}")

    if default_storage.exists("uploads"):
        walk("uploads")
    return found


def media_bytes(client: Any, url: str) -> tuple[Any, bytes]:
    response = client.get(url)
    body = b"".join(async_to_sync(_collect)(response)) if response.streaming else response.content
    return response, body


async def _collect(response: Any) -> list[bytes]:
    return [chunk async for chunk in response.streaming_content]


# --- images -------------------------------------------------------------------------------------------


def test_a_visitor_image_is_stored_re_encoded_thumbnailed_and_served_inline(visitor_login, client):
    api = visitor_client(visitor_login.token)
    response = upload(api, "/api/v1/visitor/uploads", "holiday.PNG", png(1200, 800))
    assert response.status_code == 201, response.content
    attachment = response.json()["attachment"]
    assert attachment["kind"] == "image" and attachment["name"] == "holiday.png"
    assert (attachment["width"], attachment["height"], attachment["content_type"]) == (1200, 800, "image/png")
    assert attachment["url"] == f"/media/{attachment['key']}" and attachment["thumb_url"].endswith("/thumb")
    served, body = media_bytes(client, attachment["url"])
    assert served.status_code == 200 and served["Content-Type"] == "image/png"
    assert served["X-Content-Type-Options"] == "nosniff" and "sandbox" in served["Content-Security-Policy"]
    assert served["Content-Disposition"].startswith("inline")
    assert Image.open(io.BytesIO(body)).size == (1200, 800)
    thumb, thumb_body = media_bytes(client, attachment["thumb_url"])
    assert thumb["Content-Type"] == "image/webp"
    assert max(Image.open(io.BytesIO(thumb_body)).size) == 480


def test_a_small_image_has_no_thumbnail_of_its_own(visitor_login, client):
    attachment = upload(visitor_client(visitor_login.token), "/api/v1/visitor/uploads", "a.png", png()).json()
    assert attachment["attachment"]["thumb_url"] == attachment["attachment"]["url"]
    assert client.get(f"/media/{attachment['attachment']['key']}/thumb").status_code == 404


def test_the_type_comes_from_the_content_not_the_name(visitor_login):
    api = visitor_client(visitor_login.token)
    # An image named like a document is an image; BMP is stored as PNG.
    bmp = io.BytesIO()
    Image.new("RGB", (10, 10)).save(bmp, format="BMP")
    as_pdf = upload(api, "/api/v1/visitor/uploads", "report.pdf", png(), upload_id="a").json()["attachment"]
    assert (as_pdf["kind"], as_pdf["name"], as_pdf["content_type"]) == ("image", "report.png", "image/png")
    from_bmp = upload(api, "/api/v1/visitor/uploads", "scan.bmp", bmp.getvalue(), upload_id="b").json()
    assert (from_bmp["attachment"]["name"], from_bmp["attachment"]["content_type"]) == ("scan.png", "image/png")
    # A PDF named like an image is a file, served as a PDF download.
    pdf = upload(api, "/api/v1/visitor/uploads", "photo.jpg", b"%PDF-1.4\n1 0 obj<<>>endobj\n%%EOF", upload_id="c")
    assert pdf.status_code == 201
    assert (pdf.json()["attachment"]["kind"], pdf.json()["attachment"]["content_type"]) == ("file", "application/pdf")


def test_image_metadata_such_as_gps_is_dropped(visitor_login):
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x8825] = {2: (39.0, 54.0, 27.0)}  # GPSInfo: latitude
    data = jpeg(exif=exif.tobytes())
    assert b"PhoneMaker" in data
    key = upload(visitor_client(visitor_login.token), "/api/v1/visitor/uploads", "me.jpg", data).json()["attachment"][
        "key"
    ]
    stored = Attachment.objects.get(key=key)
    body = stored.file.read()
    assert b"PhoneMaker" not in body and not Image.open(io.BytesIO(body)).getexif()


def test_a_photo_is_turned_as_the_camera_was_held(visitor_login):
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to view
    key = upload(visitor_client(visitor_login.token), "/api/v1/visitor/uploads", "p.jpg", jpeg(64, 48, exif.tobytes()))
    attachment = key.json()["attachment"]
    assert (attachment["width"], attachment["height"]) == (48, 64)
    stored = Image.open(Attachment.objects.get(key=attachment["key"]).file)
    assert stored.size == (48, 64) and 0x0112 not in stored.getexif()


def test_an_animated_gif_keeps_its_frames(visitor_login):
    frames_ = [Image.new("RGB", (20, 20), (i * 60, 0, 255 - i * 60)) for i in range(4)]
    out = io.BytesIO()
    frames_[0].save(out, format="GIF", save_all=True, append_images=frames_[1:], duration=100, loop=0)
    key = upload(visitor_client(visitor_login.token), "/api/v1/visitor/uploads", "a.gif", out.getvalue()).json()
    stored = Attachment.objects.get(key=key["attachment"]["key"])
    assert getattr(Image.open(stored.file), "n_frames", 1) == 4


@pytest.mark.parametrize(
    ("name", "data", "code", "status"),
    [
        ("broken.png", png()[:60] + b"\x00" * 40, "bad_image", 400),
        ("cut.jpg", jpeg(400, 400)[:300], "bad_image", 400),
        ("page.html", b"<!DOCTYPE html><html><script>alert(1)</script></html>", "bad_type", 415),
        ("photo.jpg", b"  <html><body onload=alert(1)></body></html>", "bad_type", 415),
        ("logo.png", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "bad_type", 415),
        ("logo.svg", b"not really svg but named so", "bad_type", 415),
        ("data.xml", b"plain", "bad_type", 415),
        ("feed.txt", b'\xef\xbb\xbf<?xml version="1.0"?><x:xmpmeta/>', "bad_type", 415),
        ("setup.txt", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 100, "bad_type", 415),
        ("tool", b"\x7fELF\x02\x01\x01" + b"\x00" * 100, "bad_type", 415),
        ("run.dat", b"#!/bin/sh\nrm -rf ~\n", "bad_type", 415),
        ("invoice.pdf.exe", b"anything", "bad_type", 415),
        ("empty.txt", b"", "empty", 400),
    ],
)
def test_markup_programs_and_broken_images_are_refused_and_nothing_is_stored(visitor_login, name, data, code, status):
    response = upload(visitor_client(visitor_login.token), "/api/v1/visitor/uploads", name, data)
    assert (response.status_code, response.json()["error"]["code"]) == (status, code), response.content
    assert Attachment.objects.count() == 0 and stored_files() == []


def test_a_polyglot_image_loses_its_payload(visitor_login, client):
    """A GIF that is also a script (GIFAR-style tail, HTML in a comment) is stored as pixels only."""
    payload = b"<html><script>alert(document.cookie)</script></html>"
    gif = io.BytesIO()
    Image.new("P", (8, 8), 3).save(gif, format="GIF", comment=payload)
    polyglot = gif.getvalue() + payload
    assert payload in polyglot
    key = upload(visitor_client(visitor_login.token), "/api/v1/visitor/uploads", "x.html.gif", polyglot).json()
    served, body = media_bytes(client, key["attachment"]["url"])
    assert served["Content-Type"] == "image/gif" and b"<script" not in body and b"<html" not in body


def test_a_polyglot_file_is_served_inert(visitor_login, client):
    """A PDF with HTML inside is a PDF: a download, never sniffed, sandboxed if a browser opens it."""
    data = b"%PDF-1.4\n<html><script>alert(1)</script></html>\n%%EOF"
    attachment = upload(visitor_client(visitor_login.token), "/api/v1/visitor/uploads", "a.pdf", data).json()
    served, body = media_bytes(client, attachment["attachment"]["url"])
    assert body == data
    assert served["Content-Type"] == "application/pdf"
    assert served["Content-Disposition"].startswith("attachment")
    assert served["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in served["Content-Security-Policy"] and "default-src 'none'" in served["Content-Security-Policy"]


def test_a_voice_recording_whose_magic_starts_like_a_script_is_a_file(visitor_login, client):
    """An AMR voice (WeChat's, phones') begins "#!AMR": a known audio format, not a "#!" script."""
    data = b"#!AMR\n" + b"\x3c\x91" * 200
    response = upload(visitor_client(visitor_login.token), "/api/v1/visitor/uploads", "voice.amr", data)
    assert response.status_code == 201, response.content
    served, body = media_bytes(client, response.json()["attachment"]["url"])
    assert body == data and served["Content-Type"] == "audio/amr"
    # A real script keeps being refused, whatever its name.
    script = upload(
        visitor_client(visitor_login.token), "/api/v1/visitor/uploads", "voice.amr", b"#!/bin/sh\nid\n", "s"
    )
    assert script.status_code == 415 and script.json()["error"]["code"] == "bad_type"


def test_a_file_name_is_cleaned_and_offered_safely(visitor_login, client):
    name = '../../etc/pass"wd\x00\u202e.txt'
    response = upload(visitor_client(visitor_login.token), "/api/v1/visitor/uploads", name, "证书 ok".encode())
    attachment = response.json()["attachment"]
    assert attachment["name"] == 'pass"wd.txt' and attachment["content_type"] == "text/plain; charset=utf-8"
    served, _ = media_bytes(client, attachment["url"])
    disposition = served["Content-Disposition"]
    assert disposition.startswith("attachment") and "\n" not in disposition and "../" not in disposition
    # Unicode names go in filename*, per RFC 6266.
    other = upload(
        visitor_client(visitor_login.token), "/api/v1/visitor/uploads", "合同.zip", b"PK\x03\x04" + b"\0" * 40, "z"
    )
    served, _ = media_bytes(client, other.json()["attachment"]["url"])
    assert "filename*=utf-8''%E5%90%88%E5%90%8C.zip" in served["Content-Disposition"]


# --- limits -------------------------------------------------------------------------------------------


def test_size_limits_are_the_enterprises(visitor_login, enterprise):
    enterprise.upload_image_max_mb = 1
    enterprise.upload_file_max_mb = 2
    enterprise.save()
    api = visitor_client(login_visitor(enterprise).token)
    big_file = b"PK\x03\x04" + b"\0" * (3 * 1024 * 1024)
    response = upload(api, "/api/v1/visitor/uploads", "big.zip", big_file, "f1")
    assert (response.status_code, response.json()["error"]["code"]) == (413, "too_large")
    ok_file = upload(api, "/api/v1/visitor/uploads", "ok.zip", big_file[: 3 * 1024 * 1024 // 2], "f2")
    assert ok_file.status_code == 201
    noisy = Image.frombytes("RGB", (700, 700), (bytes(range(251)) * 6000)[: 700 * 700 * 3])
    out = io.BytesIO()
    noisy.save(out, format="PNG", compress_level=0)
    assert 1024 * 1024 < len(out.getvalue()) < 2 * 1024 * 1024
    image = upload(api, "/api/v1/visitor/uploads", "big.png", out.getvalue(), "i1")
    assert (image.status_code, image.json()["error"]["code"]) == (413, "too_large")
    assert "1 MB" in image.json()["error"]["message"]


def test_an_enterprise_limit_cannot_exceed_the_servers(enterprise, settings):
    from django.core.exceptions import ValidationError

    settings.GOFLY = {**settings.GOFLY, "UPLOAD_MAX_MB": 20}
    enterprise.upload_file_max_mb = 21
    with pytest.raises(ValidationError) as refused:
        enterprise.full_clean()
    assert "upload_file_max_mb" in refused.value.message_dict


def test_a_decompression_bomb_is_refused_before_decoding(visitor_login, settings):
    settings.GOFLY = {**settings.GOFLY, "UPLOAD_MAX_PIXELS": 1_000_000}
    bomb = png(4000, 4000, (0, 0, 0))  # 16 megapixels in a few kilobytes
    assert len(bomb) < 100_000
    response = upload(visitor_client(visitor_login.token), "/api/v1/visitor/uploads", "bomb.png", bomb)
    assert (response.status_code, response.json()["error"]["code"]) == (413, "too_large")


def test_a_photo_over_the_pixel_limit_is_decoded_at_a_fraction_of_its_size_and_stored_so(visitor_login, settings):
    settings.GOFLY = {**settings.GOFLY, "UPLOAD_MAX_PIXELS": 1_000_000}
    api = visitor_client(visitor_login.token)
    photo = upload(api, "/api/v1/visitor/uploads", "photo.jpg", jpeg(2000, 1500))  # 3 Mpx: decoded at 1/2
    assert photo.status_code == 201, photo.content
    assert (photo.json()["attachment"]["width"], photo.json()["attachment"]["height"]) == (1000, 750)
    # Odd sides too (a size asked rounded up made the decoder take the whole 3 Mpx).
    odd = upload(api, "/api/v1/visitor/uploads", "odd.jpg", jpeg(2001, 1501), upload_id="u-odd")
    assert odd.status_code == 201, odd.content
    assert (odd.json()["attachment"]["width"], odd.json()["attachment"]["height"]) == (1001, 751)
    # Other formats cannot be decoded small: refused.
    screenshot = upload(api, "/api/v1/visitor/uploads", "shot.png", png(2000, 1500), upload_id="u-2")
    assert (screenshot.status_code, screenshot.json()["error"]["code"]) == (413, "too_large")
    # A JPEG that even 1/8 of does not fit is refused too.
    settings.GOFLY = {**settings.GOFLY, "UPLOAD_MAX_PIXELS": 10_000}
    huge = upload(api, "/api/v1/visitor/uploads", "huge.jpg", jpeg(1000, 1000), upload_id="u-3")
    assert (huge.status_code, huge.json()["error"]["code"]) == (413, "too_large")


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P", "L", "1", "I;16"])
def test_every_kind_of_image_gets_a_thumbnail_of_the_right_size(visitor_login, client, mode):
    out = io.BytesIO()
    Image.new(mode, (1500, 600)).save(out, format="PNG")
    response = upload(visitor_client(visitor_login.token), "/api/v1/visitor/uploads", "a.png", out.getvalue())
    assert response.status_code == 201, response.content
    _thumb, body = media_bytes(client, response.json()["attachment"]["thumb_url"])
    assert Image.open(io.BytesIO(body)).size == (480, 192)


def test_images_are_decoded_a_few_at_a_time_and_an_upload_that_waits_too_long_is_told_to_retry(visitor_login, settings):
    settings.GOFLY = {**settings.GOFLY, "IMAGE_DECODES": 1, "IMAGE_DECODE_WAIT": 0.2}
    api = visitor_client(visitor_login.token)
    holding, release = threading.Event(), threading.Event()

    def other_upload() -> None:  # another request decoding a big image meanwhile
        with files.decode_slots.held():
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=other_upload)
    thread.start()
    try:
        assert holding.wait(5)
        busy = upload(api, "/api/v1/visitor/uploads", "a.png", png(600, 400))
        assert busy.status_code == 503
        assert busy.json()["error"]["code"] == "busy" and busy["Retry-After"] == "5"
        # A file that is no image needs no decoding slot.
        text = api.post(
            "/api/v1/visitor/uploads",
            {"file": SimpleUploadedFile("notes.txt", b"hello", content_type="text/plain"), "upload_id": "t-1"},
            format="multipart",
        )
        assert text.status_code == 201
    finally:
        release.set()
        thread.join()
    assert not Attachment.objects.filter(upload_id="u-1").exists()
    assert upload(api, "/api/v1/visitor/uploads", "a.png", png(600, 400)).status_code == 201  # the retry


def test_uploads_are_rate_limited_per_uploader(visitor_login, settings):
    settings.GOFLY = {**settings.GOFLY, "RATE_UPLOADS": (2, 60)}
    api = visitor_client(visitor_login.token)
    codes = [upload(api, "/api/v1/visitor/uploads", "a.png", png(), f"r{i}").status_code for i in range(3)]
    assert codes == [201, 201, 429]
    # A retry of a stored upload is answered, not counted.
    assert upload(api, "/api/v1/visitor/uploads", "a.png", png(), "r0").status_code == 200


def _asgi_post(headers: list[tuple[bytes, bytes]], chunks: list[bytes]) -> tuple[list[dict[str, Any]], list[str]]:
    reached: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        reached.append("app")
        while True:  # as Django's handler reads a body: a disconnect aborts the request, unanswered
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    sent: list[dict[str, Any]] = []
    incoming = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]

    async def receive() -> dict[str, Any]:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/api/v1/visitor/uploads", "headers": headers}
    async_to_sync(BodyLimit(app))(scope, receive, send)
    return sent, reached


def test_a_body_larger_than_the_server_allows_is_refused_before_it_is_read(settings):
    settings.GOFLY = {**settings.GOFLY, "UPLOAD_MAX_MB": 1}
    sent, reached = _asgi_post([(b"content-length", str(3 * 1024 * 1024).encode())], [b""])
    assert reached == [] and sent[0]["status"] == 413
    assert json.loads(sent[1]["body"])["error"]["code"] == "too_large"
    # Without a length (chunked), reading stops at the limit.
    sent, reached = _asgi_post([], [b"x" * 1024 * 1024] * 3)
    assert reached == ["app"] and [m["status"] for m in sent if "status" in m] == [413]
    # Within the limit: untouched.
    sent, _ = _asgi_post([(b"content-length", b"2")], [b"ok"])
    assert sent[0]["status"] == 200


# --- retries, bad requests, tenants -------------------------------------------------------------------


def test_a_retried_upload_is_stored_once(visitor_login):
    api = visitor_client(visitor_login.token)
    first = upload(api, "/api/v1/visitor/uploads", "a.png", png(), "same-id")
    again = upload(api, "/api/v1/visitor/uploads", "a.png", png(), "same-id")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == {**first.json(), "duplicate": True}
    assert Attachment.objects.count() == 1 and len(stored_files()) == 1


def test_a_failure_after_the_bytes_are_stored_leaves_no_file(visitor_login, monkeypatch):
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("database gone")

    monkeypatch.setattr(Attachment, "save", refuse)
    with pytest.raises(RuntimeError):
        upload_store(
            visitor=visitor_login.visitor, agent=None, upload_id="x", upload=SimpleUploadedFile("a.png", png(900, 900))
        )
    assert stored_files() == []


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"upload_id": "u"}, "no_file"),
        ({"file": [SimpleUploadedFile("a.txt", b"a"), SimpleUploadedFile("b.txt", b"b")], "upload_id": "u"}, "no_file"),
        ({"file": SimpleUploadedFile("a.txt", b"a")}, "bad_upload_id"),
        ({"file": SimpleUploadedFile("a.txt", b"a"), "upload_id": "has space"}, "bad_upload_id"),
        ({"file": SimpleUploadedFile("a.txt", b"a"), "upload_id": "x" * 65}, "bad_upload_id"),
    ],
)
def test_bad_upload_requests_get_a_clear_error(visitor_login, body, code):
    response = visitor_client(visitor_login.token).post("/api/v1/visitor/uploads", body, format="multipart")
    assert (response.status_code, response.json()["error"]["code"]) == (400, code)


def test_an_upload_must_be_multipart_and_authenticated(visitor_login):
    json_body = visitor_client(visitor_login.token).post("/api/v1/visitor/uploads", {"file": "x"}, format="json")
    assert json_body.status_code == 415 and json_body.json()["error"]["code"] == "unsupported_media_type"
    anonymous = APIClient().post(
        "/api/v1/visitor/uploads", {"file": SimpleUploadedFile("a.txt", b"a")}, format="multipart"
    )
    assert anonymous.status_code == 401


def test_agents_upload_into_their_enterprises_threads_only(visitor_login, agent, other_agent):
    visitor_id = visitor_login.visitor.visitor_id
    mine = upload(agent_client(agent), f"/api/v1/agent/visitors/{visitor_id}/uploads", "a.png", png())
    assert mine.status_code == 201
    theirs = upload(agent_client(other_agent), f"/api/v1/agent/visitors/{visitor_id}/uploads", "a.png", png())
    unknown = upload(agent_client(agent), "/api/v1/agent/visitors/nobody/uploads", "a.png", png())
    assert theirs.status_code == unknown.status_code == 404
    assert theirs.json() == unknown.json()
    assert Attachment.objects.count() == 1


def test_the_media_endpoint_answers_unknown_keys_with_404(client):
    for url in ("/media/" + "0" * 32, "/media/not-a-key", "/media/" + "0" * 32 + "/thumb", "/media/../../etc/passwd"):
        assert client.get(url).status_code == 404, url
    assert client.post("/media/" + "0" * 32).status_code in (403, 405)


# --- sending ----------------------------------------------------------------------------------------


def _stored(client: APIClient, url: str, name: str, data: bytes, upload_id: str = "u-1") -> dict[str, Any]:
    response = upload(client, url, name, data, upload_id)
    assert response.status_code == 201, response.content
    return response.json()["attachment"]


def test_sending_an_upload_stores_a_message_of_its_kind_for_both_sides(visitor_login, agent, published):
    api = visitor_client(visitor_login.token)
    image = _stored(api, "/api/v1/visitor/uploads", "a.png", png())
    sent = api.post("/api/v1/visitor/messages", {"client_id": "c1", "attachment": image["key"]}, format="json")
    assert sent.status_code == 201, sent.content
    message = sent.json()["message"]
    assert message["kind"] == "image" and message["meta"]["attachment"] == image
    assert message["content"] == f"img[{image['url']}]"
    visitor_id = visitor_login.visitor.visitor_id
    doc = _stored(agent_client(agent), f"/api/v1/agent/visitors/{visitor_id}/uploads", "price list.csv", b"a,b\n1,2\n")
    reply = agent_client(agent).post(
        f"/api/v1/agent/visitors/{visitor_id}/messages", {"client_id": "c2", "attachment": doc["key"]}, format="json"
    )
    assert reply.status_code == 201, reply.content
    stored = Message.objects.get(pk=reply.json()["message"]["id"])
    assert stored.kind == "file" and stored.agent_id == agent.pk
    assert json.loads(stored.content[len("attachment[") : -1]) == {
        "name": "price list.csv", "ext": ".csv", "size": 8, "path": doc["url"],
    }  # fmt: skip
    mine = frames.group_visitor(visitor_login.visitor.pk)
    to_visitor = [
        f for g, f in published if g == mine and f["type"] == "message.new" and f["data"]["kind"] != "event"
    ]  # fmt: skip
    assert [f["data"]["kind"] for f in to_visitor] == ["image", "file"]
    assert to_visitor[1]["data"]["meta"]["attachment"]["name"] == "price list.csv"
    # A resend of the same client_id is the same message.
    again = api.post("/api/v1/visitor/messages", {"client_id": "c1", "attachment": image["key"]}, format="json")
    assert again.status_code == 200 and again.json()["message"]["id"] == message["id"]


def test_nobody_sends_an_upload_that_is_not_theirs(enterprise, agent, other_enterprise, other_agent):
    alice = login_visitor(enterprise)
    bob = login_visitor(enterprise)
    stranger = login_visitor(other_enterprise)
    alices = _stored(visitor_client(alice.token), "/api/v1/visitor/uploads", "a.png", png())
    agents = _stored(agent_client(agent), f"/api/v1/agent/visitors/{alice.visitor.visitor_id}/uploads", "b.png", png())
    cases = [
        (visitor_client(bob.token), "/api/v1/visitor/messages", alices["key"]),  # another visitor's
        (visitor_client(stranger.token), "/api/v1/visitor/messages", alices["key"]),  # another enterprise's
        (visitor_client(alice.token), "/api/v1/visitor/messages", agents["key"]),  # the agent's, as the visitor
        (
            agent_client(agent),
            f"/api/v1/agent/visitors/{bob.visitor.visitor_id}/messages",
            alices["key"],
        ),  # other thread
        (
            agent_client(agent),
            f"/api/v1/agent/visitors/{alice.visitor.visitor_id}/messages",
            alices["key"],
        ),  # visitor's
        (visitor_client(alice.token), "/api/v1/visitor/messages", "0" * 32),  # no such upload
    ]
    for client, url, key in cases:
        response = client.post(url, {"client_id": "x", "attachment": key}, format="json")
        assert (response.status_code, response.json()["error"]["code"]) == (404, "not_found"), url
    assert Message.objects.count() == 0


def test_a_bad_attachment_fails_alone_in_its_batch(enterprise, agent):
    alice = login_visitor(enterprise)
    bob = login_visitor(enterprise)
    image = _stored(visitor_client(alice.token), "/api/v1/visitor/uploads", "a.png", png())
    batch = [
        services.NewMessage(alice.visitor, Message.Sender.VISITOR, "hello", "t1"),
        services.NewMessage(bob.visitor, Message.Sender.VISITOR, "", "t2", attachment=image["key"]),
        services.NewMessage(alice.visitor, Message.Sender.VISITOR, "", "t3", attachment=image["key"]),
        services.NewMessage(bob.visitor, Message.Sender.VISITOR, None, "t4", attachment={"not": "a key"}),
        services.NewMessage(bob.visitor, Message.Sender.VISITOR, "bye", "t5"),
    ]
    results = services.messages_create(batch)
    assert [r[0].kind if isinstance(r, tuple) else (r.code if isinstance(r, ChatError) else r) for r in results] == [
        "text", "not_found", "image", "not_found", "text",
    ]  # fmt: skip


def test_a_batch_of_text_looks_up_no_upload(enterprise):
    alice = login_visitor(enterprise)
    services.messages_create([services.NewMessage(alice.visitor, Message.Sender.VISITOR, "warm up", "w")])
    with CaptureQueriesContext(connection) as queries:
        services.messages_create([services.NewMessage(alice.visitor, Message.Sender.VISITOR, "hi", "h")])
    assert not [q for q in queries.captured_queries if "chat_attachment" in q["sql"]]
    image = _stored(visitor_client(alice.token), "/api/v1/visitor/uploads", "a.png", png())
    with CaptureQueriesContext(connection) as queries:
        services.messages_create(
            [
                services.NewMessage(alice.visitor, Message.Sender.VISITOR, "", f"i{i}", attachment=image["key"])
                for i in range(3)
            ]
        )
    assert len([q for q in queries.captured_queries if "chat_attachment" in q["sql"]]) == 1


async def test_an_upload_is_sent_over_the_socket_too(enterprise):
    from channels.db import database_sync_to_async

    from tests.chat.wsutil import connect_ready, recv_type, send, visitor_socket

    login = await database_sync_to_async(login_visitor)(enterprise)
    image, _created = await database_sync_to_async(upload_store)(
        visitor=login.visitor, agent=None, upload_id="u", upload=SimpleUploadedFile("a.png", png())
    )
    comm = visitor_socket(login.token)
    await connect_ready(comm)
    await send(comm, "message.send", {"client_id": "s1", "attachment": image.key})
    ack = await recv_type(comm, "message.ack")
    await send(comm, "message.send", {"client_id": "s2", "attachment": ["x"]})
    error = await recv_type(comm, "error")
    await comm.disconnect()
    stored = await database_sync_to_async(lambda: Message.objects.get(client_id="s1"))()
    assert stored.kind == "image" and ack["client_id"] == "s1"
    assert (error["code"], error["ref"]) == ("not_found", "s2")


def test_a_service_refusal_is_a_chat_error(visitor_login):
    with pytest.raises(ChatError) as refused:
        upload_store(visitor=visitor_login.visitor, agent=None, upload_id="u", upload="not a file")
    assert refused.value.code == "no_file"


def test_clearing_a_visitors_history_removes_their_uploads(visitor_login, enterprise):
    from accounts.permissions import ROLE_ENTERPRISE_ADMIN
    from accounts.services import agent_create
    from chat.services import visitor_history_clear
    from tests.conftest import AGENT_PASSWORD

    admin = agent_create(
        enterprise=enterprise, username="boss", password=AGENT_PASSWORD, nickname="Boss", role=ROLE_ENTERPRISE_ADMIN
    )

    api = visitor_client(visitor_login.token)
    _stored(api, "/api/v1/visitor/uploads", "a.png", png(900, 900))
    _stored(api, "/api/v1/visitor/uploads", "b.zip", b"PK\x03\x04" + b"\0" * 40, "u-2")
    assert len(stored_files()) == 3  # two uploads and a thumbnail
    visitor_history_clear(agent=admin, visitor_id=visitor_login.visitor.visitor_id)
    assert Attachment.objects.count() == 0 and stored_files() == []


def test_deleting_a_visitor_removes_their_uploads(visitor_login):
    _stored(visitor_client(visitor_login.token), "/api/v1/visitor/uploads", "a.png", png())
    visitor_login.visitor.delete()
    assert stored_files() == []


def test_a_file_name_that_is_not_utf8_gets_a_clear_error(visitor_login):
    """Browsers send names in UTF-8; Django's parser drops a part whose name is not, so it is answered as
    a missing file, clearly, never a 500 or a silent success."""
    boundary = "b0undary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="upload_id"\r\n\r\nraw-1\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="'
        ).encode()
        + b"caf\xe9\xff.txt"
        + f'"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--{boundary}--\r\n'.encode()
    )
    response = visitor_client(visitor_login.token).generic(
        "POST",
        "/api/v1/visitor/uploads",
        body,  # type: ignore[arg-type]  # bytes are what Django's client sends as they are
        content_type=f"multipart/form-data; boundary={boundary}",
    )
    assert (response.status_code, response.json()["error"]["code"]) == (400, "no_file")
    assert Attachment.objects.count() == 0


def test_the_database_gone_during_an_upload_answers_503_and_keeps_no_file(visitor_login, monkeypatch):
    from django.db import OperationalError

    def gone(*args: Any, **kwargs: Any) -> None:
        raise OperationalError(2006, "MySQL server has gone away")

    monkeypatch.setattr(Attachment, "save", gone)
    response = upload(visitor_client(visitor_login.token), "/api/v1/visitor/uploads", "a.png", png(900, 900))
    assert (response.status_code, response.json()["error"]["code"]) == (503, "unavailable")
    assert stored_files() == []
    monkeypatch.undo()  # back: the client's retry (same upload_id) is stored once
    again = upload(visitor_client(visitor_login.token), "/api/v1/visitor/uploads", "a.png", png(900, 900))
    assert again.status_code == 201 and Attachment.objects.count() == 1
