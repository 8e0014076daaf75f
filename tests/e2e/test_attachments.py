"""Images and files in a real browser, both ways: picked, pasted and dropped; thumbnails and the viewer; a
file card; refusals; an upload whose connection drops after the server stored it (retried once, stored
once); and a phone."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from PIL import Image

from chat.models import Attachment, Message
from tests.conftest import AGENT_PASSWORD
from tests.e2e import test_browser as base

pytestmark = base.pytestmark
expect = base.expect

visitor_id_of = base.visitor_id_of


def png(width: int, height: int, color: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, format="PNG")
    return out.getvalue()


def chat_url(server: str, enterprise: Any, agent: Any) -> str:
    return f"{server}/chatIndex?kefu_id={agent.username}&ent_id={enterprise.pk}&lang=en"


def sent(page: Any, selector: str) -> Any:
    bubble = page.locator(selector).last
    expect(bubble.locator("xpath=ancestor::div[contains(concat(' ', @class, ' '), ' msg ')][1]")).to_have_attribute(
        "data-state", re.compile("sent|read")
    )
    return bubble


# Builds File objects in the page and hands them over as a paste or a drop would.
PASTE = """([sel, b64, name, type]) => {
  const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
  const dt = new DataTransfer();
  dt.items.add(new File([bytes], name, {type}));
  const paste = new ClipboardEvent('paste', {clipboardData: dt, bubbles: true, cancelable: true});
  document.querySelector(sel).dispatchEvent(paste);
}"""
DROP = """([sel, b64, name, type]) => {
  const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
  const dt = new DataTransfer();
  dt.items.add(new File([bytes], name, {type}));
  const target = document.querySelector(sel);
  for (const kind of ['dragenter', 'dragover', 'drop']) {
    target.dispatchEvent(new DragEvent(kind, {dataTransfer: dt, bubbles: true, cancelable: true}));
  }
}"""


def b64(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode()


@pytest.mark.django_db(transaction=True)
def test_images_and_files_go_both_ways_picked_pasted_and_dropped(
    browser: Any, server: str, enterprise: Any, agent: Any
) -> None:
    visitor = browser.new_context(locale="en-US").new_page()
    visitor.goto(chat_url(server, enterprise, agent))
    visitor_id = visitor_id_of(visitor)
    # Picked: a large photo, shown as its thumbnail in a box of its shape.
    visitor.locator("#composer-image-input").set_input_files(
        files=[{"name": "kettle.png", "mimeType": "image/png", "buffer": png(1600, 1200, (200, 40, 40))}]
    )
    image = sent(visitor, ".msg--out .att-image__img")
    expect(image).to_have_attribute("src", re.compile(r"^/media/[0-9a-f]{32}/thumb$"))
    assert image.evaluate("i => [i.getAttribute('width'), i.getAttribute('height')]") == ["240", "180"]
    # Pasted and dropped.
    visitor.evaluate(PASTE, ["#composer-input", b64(png(50, 50, (0, 150, 0))), "image.png", "image/png"])
    visitor.evaluate(DROP, ["#vchat", b64("订单号 12345\n".encode()), "订单.txt", "text/plain"])
    sent(visitor, ".msg--out .att-file")
    expect(visitor.locator(".msg--out .att-image")).to_have_count(2)
    expect(visitor.locator(".msg--out .att-file__name")).to_have_text("订单.txt")

    console = browser.new_context(locale="en-US").new_page()
    base.log_in(console, server, agent.username, AGENT_PASSWORD)
    base.open_row(console, visitor_id)
    expect(console.locator(".msg--in .att-image")).to_have_count(2)
    stored = Message.objects.get(kind="file")
    assert console.evaluate("c => GoFly.previewText(c)", stored.content) == "[File] 订单.txt"
    # The viewer shows the whole image and closes with Esc, giving the focus back.
    console.locator(".msg--in .att-image").first.click()
    viewer = console.locator(".viewer")
    expect(viewer).to_be_visible()
    expect(viewer.locator(".viewer__img")).to_have_attribute("src", re.compile(r"^/media/[0-9a-f]{32}$"))
    console.wait_for_function("() => document.querySelector('.viewer__img').naturalWidth === 1600")
    console.keyboard.press("Escape")
    expect(viewer).to_be_hidden()
    # The agent sends a file: the visitor gets a card that downloads it, served inert.
    console.locator("#composer-file-input").set_input_files(
        files=[{"name": "price list.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4\n%%EOF\n"}]
    )
    sent(console, ".msg--out .att-file")
    card = visitor.locator(".msg--in a.att-file")
    expect(card).to_contain_text("price list.pdf")
    expect(card).to_have_attribute("download", "price list.pdf")
    response = visitor.request.get(server + card.get_attribute("href"))
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"].startswith("attachment")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.body() == b"%PDF-1.4\n%%EOF\n"
    kinds = list(Message.objects.exclude(kind="event").order_by("id").values_list("sender", "kind"))
    assert kinds == [("visitor", "image"), ("visitor", "image"), ("visitor", "file"), ("agent", "file")]
    base.shot(console, "console-attachments")
    base.shot(visitor, "visitor-attachments")


@pytest.mark.django_db(transaction=True)
def test_a_refused_upload_says_why_and_can_be_deleted(browser: Any, server: str, enterprise: Any, agent: Any) -> None:
    visitor = browser.new_context(locale="en-US").new_page()
    visitor.goto(chat_url(server, enterprise, agent))
    visitor_id_of(visitor)
    visitor.locator("#composer-file-input").set_input_files(
        files=[{"name": "page.html", "mimeType": "text/html", "buffer": b"<html><script>alert(1)</script></html>"}]
    )
    failed = visitor.locator('.msg--out[data-state="failed"]')
    expect(failed).to_contain_text("Files of type .html are not accepted.")
    expect(failed.locator(".msg__retry")).to_have_count(0)  # nothing a retry could fix
    failed.locator(".msg__discard").click()
    expect(visitor.locator(".msg--out")).to_have_count(0)
    assert Attachment.objects.count() == 0 and Message.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_an_upload_cut_off_after_it_was_stored_is_retried_once_and_stored_once(
    browser: Any, server: str, enterprise: Any, agent: Any
) -> None:
    visitor = browser.new_context(locale="en-US").new_page()
    visitor.goto(chat_url(server, enterprise, agent))
    visitor_id_of(visitor)
    calls: list[int] = []

    def drop_the_first_answer(route: Any) -> None:
        calls.append(1)
        if len(calls) == 1:
            stored = route.fetch()  # the server receives and stores it...
            assert stored.status == 201
            route.abort("connectionreset")  # ...and the answer never reaches the page
        else:
            route.continue_()

    visitor.route("**/api/v1/visitor/uploads", drop_the_first_answer)
    visitor.locator("#composer-image-input").set_input_files(
        files=[{"name": "a.png", "mimeType": "image/png", "buffer": png(300, 200, (0, 0, 200))}]
    )
    sent(visitor, ".msg--out .att-image__img")
    assert len(calls) == 2
    assert Attachment.objects.count() == 1
    assert list(Message.objects.exclude(kind="event").values_list("kind", flat=True)) == ["image"]
    visitor.reload()
    visitor_id_of(visitor)
    expect(visitor.locator(".msg--out .att-image")).to_have_count(1)


@pytest.mark.django_db(transaction=True)
def test_a_phone_sends_a_photo_and_sees_the_viewer_full_screen(
    browser: Any, server: str, enterprise: Any, agent: Any
) -> None:
    phone = browser.new_context(locale="en-US", **base.PHONE).new_page()
    phone.goto(chat_url(server, enterprise, agent))
    visitor_id_of(phone)
    phone.locator("#composer-image").tap()  # the button opens the picker (answered by the file chooser)
    phone.locator("#composer-image-input").set_input_files(
        files=[{"name": "photo.png", "mimeType": "image/png", "buffer": png(900, 1600, (90, 90, 90))}]
    )
    image = sent(phone, ".msg--out .att-image")
    image.tap()
    viewer = phone.locator(".viewer")
    expect(viewer).to_be_visible()
    box = viewer.bounding_box()
    assert box is not None and (box["width"], box["height"]) == (390, 844)
    base.shot(phone, "visitor-phone-viewer")
    viewer.locator(".viewer__close").tap()
    expect(viewer).to_be_hidden()


@pytest.mark.django_db(transaction=True)
def test_a_message_written_after_an_image_waits_for_it_and_arrives_after_it(
    browser: Any, server: str, enterprise: Any, agent: Any
) -> None:
    visitor = browser.new_context(locale="en-US").new_page()
    visitor.goto(chat_url(server, enterprise, agent))
    visitor_id_of(visitor)
    held: list[Any] = []
    visitor.route("**/api/v1/visitor/uploads", lambda route: held.append(route))
    visitor.locator("#composer-image-input").set_input_files(
        files=[{"name": "slow.png", "mimeType": "image/png", "buffer": png(400, 300, (120, 0, 120))}]
    )
    base.send(visitor, "This is the one I mean")
    expect(visitor.locator('.msg--out[data-state="uploading"]')).to_have_count(1)
    visitor.wait_for_timeout(1500)  # the text is ready, yet waits behind the upload
    assert held and not Message.objects.exclude(kind="event").exists()
    held[0].continue_()
    expect(visitor.locator('.msg--out[data-state="sent"], .msg--out[data-state="read"]')).to_have_count(2)
    kinds = list(Message.objects.exclude(kind="event").order_by("id").values_list("kind", "content"))
    assert [k for k, _ in kinds] == ["image", "text"] and kinds[1][1] == "This is the one I mean"
