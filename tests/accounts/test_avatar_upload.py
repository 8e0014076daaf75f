"""Uploaded avatars (accounts.avatars, accounts.services.agent_avatar_set): an agent's own on /account, a
colleague's by an enterprise admin in /manage/; checked by content, re-encoded as a square WebP without
metadata, served to anyone with safe headers, the replaced file removed, every change audited."""

from __future__ import annotations

import io
import os
import re
from typing import Any
from unittest import mock

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from accounts import avatars
from accounts.models import DEFAULT_AGENT_AVATAR, User
from accounts.permissions import ROLE_ENTERPRISE_ADMIN
from accounts.services import agent_avatar_set, agent_create, role_save, superadmin_create
from core.errors import ChatError
from enterprises.models import AuditAction, AuditEntry, Enterprise
from enterprises.services import enterprise_delete
from tests.conftest import AGENT_PASSWORD, said

# on_commit must run: the replaced file goes only once its change has committed.
pytestmark = pytest.mark.django_db(transaction=True)

POLICY = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"
URL = re.compile(r"/media/avatars/(?P<enterprise>[0-9]+)/[0-9a-f]{32}\.webp")


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def boss(enterprise: Enterprise, agent: User) -> User:
    return agent_create(enterprise=enterprise, username="boss", password=AGENT_PASSWORD, role=ROLE_ENTERPRISE_ADMIN)


@pytest.fixture
def other_boss(other_enterprise: Enterprise, other_agent: User) -> User:
    return agent_create(
        enterprise=other_enterprise, username="globexboss", password=AGENT_PASSWORD, role=ROLE_ENTERPRISE_ADMIN
    )


# --- pictures ----------------------------------------------------------------------------------------


def encoded(image: Image.Image, fmt: str, **options: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def stripes(width: int = 300, height: int = 100) -> Image.Image:
    """Red, blue and green thirds from left to right: a centre crop keeps the blue one only."""
    image = Image.new("RGB", (width, height), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, width // 3, height))
    image.paste((0, 255, 0), (2 * width // 3, 0, width, height))
    return image


def photo_with_metadata() -> bytes:
    exif = Image.Exif()
    exif[0x010E] = "SECRET-EXIF-DESCRIPTION"  # ImageDescription
    exif[0x8298] = "SECRET-EXIF-COPYRIGHT"  # Copyright
    return encoded(stripes(900, 300), "JPEG", exif=exif.tobytes(), comment=b"SECRET-COMMENT", quality=90)


def noise(width: int, height: int) -> Image.Image:
    return Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))


def upload(data: bytes, name: str = "me.jpg", content_type: str = "image/jpeg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


def prepared(uploader: User) -> Any:
    """A photo as a form hands it to the service: checked and re-encoded."""
    return avatars.avatar_image(upload(photo_with_metadata()), uploader_id=uploader.pk)


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(User.objects.get(pk=user.pk))
    return client


def save_profile(client: Client, file: SimpleUploadedFile | None = None, **fields: Any) -> Any:
    form = {"form": "profile", "nickname": "Alice", "avatar": "/static/img/agent.svg", "language": "", **fields}
    if file is not None:
        form["avatar_file"] = file
    return client.post("/account", form)


def change_agent(client: Client, agent: User, file: SimpleUploadedFile | None = None, **fields: Any) -> Any:
    form = {"nickname": agent.nickname, "avatar": agent.avatar, "role": "agent", "is_active": "on", **fields}
    if file is not None:
        form["avatar_file"] = file
    return client.post(f"/manage/accounts/user/{agent.pk}/change/", form)


def avatar_of(user: User) -> str:
    return User.objects.values_list("avatar", flat=True).get(pk=user.pk)


def stored_avatars() -> list[str]:
    found: list[str] = []
    if default_storage.exists("avatars"):
        for folder in default_storage.listdir("avatars")[0]:
            found += [f"avatars/{folder}/{name}" for name in default_storage.listdir(f"avatars/{folder}")[1]]
    return found


def served(url: str, method: str = "get") -> Any:
    return getattr(Client(), method)(url)  # a visitor's browser: no session


def image_inspect(body: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(body))
    image.load()
    return image


def near(pixel: Any, colour: tuple[int, int, int]) -> bool:
    return all(abs(int(a) - b) < 40 for a, b in zip(pixel[:3], colour, strict=True))


def avatar_audits(**match: Any) -> list[AuditEntry]:
    """The avatar changes audited, the latest first."""
    entries = AuditEntry.objects.filter(action=AuditAction.AGENT_CHANGED, details__has_key="avatar", **match)
    return list(entries.order_by("-pk"))


# --- one's own, on /account ------------------------------------------------------------------------------


def test_an_agent_uploads_their_own_avatar_which_anyone_is_served_as_a_clean_square_webp(enterprise, agent):
    client = signed_in(agent)
    answer = save_profile(client, upload(photo_with_metadata()))
    assert answer.status_code == 302, answer.content.decode()[:2000]
    url = avatar_of(agent)
    match = URL.fullmatch(url)
    assert match is not None and match["enterprise"] == str(enterprise.pk)
    assert User.objects.get(pk=agent.pk).avatar_url == url  # what the payloads (visitor chat, console) emit

    response = served(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/webp"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == POLICY
    assert response["Content-Disposition"].startswith("inline")
    assert "immutable" in response["Cache-Control"]
    body = response.content
    assert int(response["Content-Length"]) == len(body)
    picture = image_inspect(body)
    assert picture.format == "WEBP" and picture.size == (256, 256)
    # The centre third of the stripes, nothing of the sides.
    assert all(near(picture.getpixel(xy), (0, 0, 255)) for xy in ((3, 3), (128, 128), (252, 252)))
    assert b"SECRET" not in body and "exif" not in picture.info and "icc_profile" not in picture.info
    head = served(url, "head")
    assert head.status_code == 200 and head["Content-Type"] == "image/webp" and head.content == b""

    page = client.get("/account").content.decode()
    assert f'src="{url}"' in page and 'enctype="multipart/form-data"' in page

    [entry] = avatar_audits(target_id=str(agent.pk))
    assert (entry.actor_id, entry.enterprise_id, entry.details) == (agent.pk, enterprise.pk, {"avatar": url})


@pytest.mark.parametrize(
    ("data", "name", "side"),
    [
        (encoded(stripes(90, 30), "PNG"), "small.png", 30),  # never scaled up
        (encoded(stripes(), "GIF"), "anim.gif", 100),
        (encoded(stripes(600, 200), "WEBP"), "wide.webp", 200),
        (encoded(stripes(60, 20).convert("RGBA"), "PNG", pnginfo=PngInfo()), "alpha.png", 20),
    ],
)
def test_png_gif_and_webp_are_accepted_and_made_square_no_bigger_than_they_were(agent, data, name, side):
    assert save_profile(signed_in(agent), upload(data, name, "application/octet-stream")).status_code == 302
    picture = image_inspect(served(avatar_of(agent)).content)
    assert picture.size == (side, side)
    assert near(picture.getpixel((side // 2, side // 2)), (0, 0, 255))


def test_png_text_chunks_do_not_survive(agent):
    info = PngInfo()
    info.add_text("Comment", "SECRET-PNG-TEXT")
    info.add_itxt("XML:com.adobe.xmp", "<x:xmpmeta>SECRET-XMP</x:xmpmeta>")
    assert save_profile(signed_in(agent), upload(encoded(stripes(), "PNG", pnginfo=info), "a.png")).status_code == 302
    body = served(avatar_of(agent)).content
    assert b"SECRET" not in body and not {"exif", "xmp", "icc_profile"} & image_inspect(body).info.keys()


def test_an_upload_wins_over_the_url_field_and_the_profile_saves_with_it(agent):
    answer = save_profile(
        signed_in(agent), upload(photo_with_metadata()), nickname="Alice W.", avatar="https://cdn.example.com/a.png"
    )
    assert answer.status_code == 302
    stored = User.objects.get(pk=agent.pk)
    assert URL.fullmatch(stored.avatar) and stored.nickname == "Alice W."


# --- refused files ----------------------------------------------------------------------------------------


def truncated(fmt: str) -> bytes:
    whole = encoded(noise(200, 200), fmt)
    return whole[: len(whole) // 2]


REFUSED = [
    pytest.param(b"just some words, no picture", "notes.png", "Upload a PNG, JPEG, GIF or WebP image.", id="text"),
    pytest.param(
        b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect width="9" height="9"/></svg>',
        "avatar.svg",
        "Upload a PNG, JPEG, GIF or WebP image.",
        id="svg",
    ),
    pytest.param(
        b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>',
        "avatar.png",
        "Upload a PNG, JPEG, GIF or WebP image.",
        id="svg-named-png",
    ),
    pytest.param(encoded(stripes(), "BMP"), "old.bmp", "Upload a PNG, JPEG, GIF or WebP image.", id="bmp"),
    pytest.param(encoded(stripes(), "TIFF"), "scan.tiff", "Upload a PNG, JPEG, GIF or WebP image.", id="tiff"),
    pytest.param(truncated("PNG"), "cut.png", "The image is damaged and cannot be shown.", id="truncated-png"),
    pytest.param(truncated("JPEG"), "cut.jpg", "The image is damaged and cannot be shown.", id="truncated-jpeg"),
    # 36 megapixels in a few kilobytes: over UPLOAD_MAX_PIXELS (24), under Pillow's own bomb limit (89).
    pytest.param(
        encoded(Image.new("1", (6000, 6000)), "PNG"), "bomb.png", "The image has more than 24 megapixels.", id="bomb"
    ),
    # A real picture of one megapixel, but over 2 MB (noise does not compress).
    pytest.param(encoded(noise(1000, 1000), "PNG"), "big.png", "The file is larger than 2 MB.", id="over-2-mb"),
]


def refusal(message: str) -> str:
    """`message` as the page says it (the default language), numbers filled in."""
    for template, number in (
        ("The image has more than %(limit)d megapixels.", 24),
        ("The file is larger than %(limit)d MB.", 2),
    ):
        if message == template % {"limit": number}:
            return said(template) % {"limit": number}
    return said(message)


@pytest.mark.parametrize(("data", "name", "message"), REFUSED)
def test_a_file_that_is_no_acceptable_picture_is_a_clear_form_error_on_account_and_changes_nothing(
    agent, data, name, message
):
    if name == "bomb.png":
        assert len(data) < 20_000
    if name == "big.png":
        assert len(data) > 2 * 1024 * 1024
    client = signed_in(agent)
    answer = save_profile(client, upload(data, name, "image/png"), nickname="Changed")
    assert answer.status_code == 400
    page = answer.content.decode()
    assert f'<p class="field__error">{refusal(message)}</p>' in page
    stored = User.objects.get(pk=agent.pk)
    assert (stored.avatar, stored.nickname) == ("/static/img/agent.svg", "Alice")
    assert stored_avatars() == [] and avatar_audits() == []


@pytest.mark.parametrize(("data", "name", "message"), [REFUSED[1], REFUSED[5], REFUSED[7], REFUSED[8]])
def test_the_management_areas_agent_page_refuses_them_with_a_form_error_too(agent, boss, data, name, message):
    answer = change_agent(signed_in(boss), agent, upload(data, name, "image/png"), nickname="Changed")
    assert answer.status_code == 200  # the admin shows its form again, with the error
    assert refusal(message) in answer.content.decode()
    stored = User.objects.get(pk=agent.pk)
    assert (stored.avatar, stored.nickname) == ("/static/img/agent.svg", "Alice")
    assert stored_avatars() == [] and avatar_audits() == []


def test_avatar_uploads_are_rate_limited_with_a_form_error(agent, settings):
    settings.GOFLY = {**settings.GOFLY, "RATE_UPLOADS": (1, 60)}
    client = signed_in(agent)
    assert save_profile(client, upload(photo_with_metadata())).status_code == 302
    first = avatar_of(agent)
    again = save_profile(client, upload(photo_with_metadata()))
    assert again.status_code == 400
    assert said("Too many requests; slow down and retry shortly.") in again.content.decode()
    assert avatar_of(agent) == first


# --- someone else's ------------------------------------------------------------------------------------


def test_an_enterprise_admin_uploads_an_agents_avatar_in_the_management_area_and_it_is_audited(enterprise, agent, boss):
    client = signed_in(boss)
    page = client.get(f"/manage/accounts/user/{agent.pk}/change/").content.decode()
    assert 'enctype="multipart/form-data"' in page and 'name="avatar_file"' in page and 'name="avatar_clear"' in page
    assert 'src="/static/img/agent.svg"' in page  # the preview

    answer = change_agent(client, agent, upload(photo_with_metadata()))
    assert answer.status_code == 302, answer.content.decode()[:3000]
    url = avatar_of(agent)
    assert URL.fullmatch(url) and URL.fullmatch(url)["enterprise"] == str(enterprise.pk)  # type: ignore[index]
    assert image_inspect(served(url).content).size == (256, 256)
    assert f'src="{url}"' in client.get(f"/manage/accounts/user/{agent.pk}/change/").content.decode()
    [entry] = avatar_audits(target_id=str(agent.pk))
    assert (entry.actor_id, entry.enterprise_id, entry.details) == (boss.pk, enterprise.pk, {"avatar": url})


def test_a_plain_agent_cannot_set_a_colleagues_avatar(enterprise, agent, second_agent):
    image = prepared(agent)
    with pytest.raises(ChatError) as refused:
        agent_avatar_set(actor=agent, agent_id=second_agent.pk, image=image)
    assert (refused.value.code, refused.value.status) == ("forbidden", 403)
    answer = change_agent(signed_in(agent), second_agent, upload(photo_with_metadata()))
    assert answer.status_code == 403
    assert avatar_of(second_agent) == DEFAULT_AGENT_AVATAR and stored_avatars() == [] and avatar_audits() == []


def test_an_admin_cannot_set_the_avatar_of_an_agent_who_holds_more_than_they_do(enterprise, agent, boss):
    lead_role = role_save(
        actor=boss, label="Team lead", permissions=["take", "transfer", "close", "block", "manage_agents"]
    )
    lead = agent_create(enterprise=enterprise, username="lead", password=AGENT_PASSWORD, role=lead_role.slug)
    image = prepared(lead)
    with pytest.raises(ChatError) as refused:
        agent_avatar_set(actor=lead, agent_id=boss.pk, image=image)
    assert refused.value.code == "above_you"
    agent_avatar_set(actor=lead, agent_id=agent.pk, image=image)  # a plain agent: allowed
    assert avatar_of(boss) == DEFAULT_AGENT_AVATAR and URL.fullmatch(avatar_of(agent))
    assert stored_avatars() == [avatar_of(agent).removeprefix("/media/")]


def test_another_enterprises_admin_gets_what_a_missing_id_gets(agent, boss, other_boss):
    image = prepared(other_boss)
    answers = []
    for agent_id in (agent.pk, 10**9, "x"):
        with pytest.raises(ChatError) as refused:
            agent_avatar_set(actor=other_boss, agent_id=agent_id, image=image)
        answers.append((refused.value.code, refused.value.status, refused.value.message))
    assert answers[0] == answers[1] == answers[2] and answers[0][:2] == ("not_found", 404)

    client = signed_in(other_boss)
    foreign = change_agent(client, agent, upload(photo_with_metadata()))
    missing = client.post("/manage/accounts/user/1000000000/change/", {"avatar_file": upload(photo_with_metadata())})
    assert (foreign.status_code, foreign.get("Location")) == (missing.status_code, missing.get("Location"))
    assert avatar_of(agent) == DEFAULT_AGENT_AVATAR and stored_avatars() == [] and avatar_audits() == []


def test_a_superadmin_has_no_enterprise_to_keep_an_avatar_in(agent):
    root = superadmin_create(username="root", password=AGENT_PASSWORD)
    image = prepared(root)
    for agent_id in (root.pk, agent.pk):
        with pytest.raises(ChatError) as refused:
            agent_avatar_set(actor=root, agent_id=agent_id, image=image)
        assert refused.value.code in ("forbidden", "not_found")
    assert stored_avatars() == []


# --- replacing and removing ----------------------------------------------------------------------------


def test_replacing_an_uploaded_avatar_removes_the_old_file(agent):
    client = signed_in(agent)
    save_profile(client, upload(photo_with_metadata()))
    first = avatar_of(agent)
    save_profile(client, upload(encoded(stripes(), "PNG"), "b.png"), avatar=first)
    second = avatar_of(agent)
    assert second != first and URL.fullmatch(second)
    assert served(first).status_code == 404 and served(second).status_code == 200
    assert stored_avatars() == [second.removeprefix("/media/")]


def test_removing_the_avatar_or_naming_another_url_removes_the_uploaded_file(agent, boss):
    client = signed_in(agent)
    save_profile(client, upload(photo_with_metadata()))
    first = avatar_of(agent)
    assert save_profile(client, avatar=first, avatar_clear="on").status_code == 302
    assert avatar_of(agent) == DEFAULT_AGENT_AVATAR and served(first).status_code == 404 and stored_avatars() == []
    assert avatar_audits(target_id=str(agent.pk))[0].details == {"avatar": DEFAULT_AGENT_AVATAR}
    save_profile(client, avatar_clear="on")  # nothing left to remove: no change, no entry
    assert len(avatar_audits(target_id=str(agent.pk))) == 2

    save_profile(client, upload(photo_with_metadata()))
    assert stored_avatars() != []
    save_profile(client, avatar="https://cdn.example.com/me.png")
    assert avatar_of(agent) == "https://cdn.example.com/me.png" and stored_avatars() == []

    # In the management area too: the admin removes it, or types an address over it.
    admin = signed_in(boss)
    agent_avatar_set(actor=boss, agent_id=agent.pk, image=prepared(boss))
    agent.refresh_from_db()
    assert change_agent(admin, agent, avatar_clear="on").status_code == 302
    assert avatar_of(agent) == DEFAULT_AGENT_AVATAR and stored_avatars() == []
    agent_avatar_set(actor=boss, agent_id=agent.pk, image=prepared(boss))
    agent.refresh_from_db()
    assert change_agent(admin, agent, avatar="https://cdn.example.com/x.png").status_code == 302
    assert avatar_of(agent) == "https://cdn.example.com/x.png" and stored_avatars() == []


def test_a_file_another_agent_still_names_is_kept_when_its_uploader_replaces_it(agent, second_agent):
    save_profile(signed_in(agent), upload(photo_with_metadata()))
    shared = avatar_of(agent)
    # A colleague typed the URL of it into their own URL field.
    save_profile(signed_in(second_agent), nickname="Bob", avatar=shared)
    save_profile(signed_in(agent), upload(photo_with_metadata()), avatar=shared)
    assert served(shared).status_code == 200 and avatar_of(second_agent) == shared
    assert len(stored_avatars()) == 2


def test_a_change_that_fails_keeps_the_old_file_and_leaves_no_new_one(agent):
    save_profile(signed_in(agent), upload(photo_with_metadata()))
    first = avatar_of(agent)
    image = prepared(agent)
    with mock.patch("accounts.services.audit_record", side_effect=RuntimeError("database gone")):
        with pytest.raises(RuntimeError):
            agent_avatar_set(actor=agent, agent_id=agent.pk, image=image)
    assert avatar_of(agent) == first and stored_avatars() == [first.removeprefix("/media/")]
    # A change rolled back after the service returned: the old file stays too.
    with pytest.raises(RuntimeError), transaction.atomic():
        agent_avatar_set(actor=agent, agent_id=agent.pk, image=image)
        raise RuntimeError("the view failed later")
    assert avatar_of(agent) == first and served(first).status_code == 200


def test_deleting_an_enterprise_removes_its_agents_uploaded_avatars(enterprise, agent, other_agent):
    save_profile(signed_in(agent), upload(photo_with_metadata()))
    save_profile(signed_in(other_agent), upload(photo_with_metadata()), nickname="Gil")
    kept = avatar_of(other_agent)
    assert len(stored_avatars()) == 2
    enterprise_delete(
        actor=superadmin_create(username="root", password=AGENT_PASSWORD),
        enterprise_id=enterprise.pk,
        confirm_name="Acme",
    )
    assert stored_avatars() == [kept.removeprefix("/media/")]


# --- serving ------------------------------------------------------------------------------------------------


def test_only_stored_avatar_names_are_served_and_only_for_reading(enterprise, agent):
    save_profile(signed_in(agent), upload(photo_with_metadata()))
    url = avatar_of(agent)
    default_storage.save(f"avatars/{enterprise.pk}/notes.txt", io.BytesIO(b"<script>alert(1)</script>"))
    for path in (
        url.replace(".webp", ".png"),
        url.replace(".webp", ".svg"),
        f"/media/avatars/{enterprise.pk}/notes.txt",
        f"/media/avatars/{enterprise.pk}/{'0' * 32}.webp",  # well-formed, never stored
        f"/media/avatars/{enterprise.pk}/../{enterprise.pk}/{url.rsplit('/', 1)[1]}",
        f"/media/avatars/x/{url.rsplit('/', 1)[1]}",
    ):
        assert served(path).status_code == 404, path
    assert Client().post(url).status_code == 405
    assert served(url).status_code == 200
