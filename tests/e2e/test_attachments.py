"""Attachments in the browser: picked, pasted or dropped into the composer, uploaded with
a progress bar, sent, and seen by the other member as a thumbnail (that opens full size)
or a file to download."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import JSHandle, Page, expect

from tests.e2e.helpers import messages, open_chat, sign_up, start_direct_chat, unique

pytestmark = pytest.mark.browser

NewPage = Callable[..., Page]
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def png(width: int, height: int, color: str) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, format="PNG")
    return out.getvalue()


def files_in_page(page: Page, files: list[tuple[str, str, bytes]]) -> JSHandle:
    """A DataTransfer holding these (name, type, bytes) files, as a drop or a paste has."""
    encoded = [[name, kind, base64.b64encode(data).decode()] for name, kind, data in files]
    return page.evaluate_handle(
        """(files) => {
            const transfer = new DataTransfer()
            for (const [name, type, b64] of files) {
                const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))
                transfer.items.add(new File([bytes], name, { type }))
            }
            return transfer
        }""",
        encoded,
    )


def test_images_and_files_by_picker_paste_and_drop_reach_the_other_member(
    new_page: NewPage, tmp_path: Path
) -> None:
    ana, bob = new_page(), new_page()
    ana_user, bob_user = unique("ana"), unique("bob")
    sign_up(ana, ana_user, "Ana Lima")
    sign_up(bob, bob_user, "Bob Stone")
    start_direct_chat(ana, bob_user[:5], "Bob Stone")

    # Picked with the attach button's file input: an image and a document.
    ana.get_by_label("Choose files to attach").set_input_files(
        [
            {"name": "beach.png", "mimeType": "image/png", "buffer": png(1280, 640, "teal")},
            {"name": "report.pdf", "mimeType": "application/pdf", "buffer": PDF},
        ]
    )
    files = ana.get_by_role("list", name="Files to send")
    expect(files.get_by_text("ready")).to_have_count(2)
    ana.get_by_role("textbox", name="Message").fill("holiday pics")
    ana.get_by_role("button", name="Send").click()
    expect(files).to_have_count(0)
    sent = messages(ana).filter(has_text="holiday pics")
    expect(sent.get_by_role("img", name="beach.png")).to_be_visible()

    # Pasted into the message box, then dropped on the composer; sent without any text.
    box = ana.get_by_role("textbox", name="Message")
    pasted = files_in_page(ana, [("image.png", "image/png", png(200, 100, "orange"))])
    box.evaluate(
        "(el, transfer) => el.dispatchEvent(new ClipboardEvent('paste',"
        " { clipboardData: transfer, bubbles: true, cancelable: true }))",
        pasted,
    )
    dropped = files_in_page(ana, [("notes.txt", "text/plain", b"bring sunscreen")])
    composer = ana.get_by_role("form", name="Compose")
    composer.dispatch_event("dragover", {"dataTransfer": dropped})
    composer.dispatch_event("drop", {"dataTransfer": dropped})
    expect(files.get_by_text("ready")).to_have_count(2)
    expect(box).to_have_value("")  # the paste put no text in the box
    ana.get_by_role("button", name="Send").click()
    expect(ana.get_by_role("button", name="Download notes.txt (15 B)")).to_be_visible()

    # Bob sees the thumbnails (decoded: 320 px wide at most) and the files.
    open_chat(bob, "Ana Lima")
    thumb = bob.get_by_role("img", name="beach.png")
    expect(thumb).to_have_js_property("naturalWidth", 320)
    expect(bob.get_by_role("img", name="image.png")).to_have_js_property("naturalWidth", 200)
    bob.get_by_role("button", name="Open image beach.png").click()
    full = bob.get_by_role("dialog").get_by_role("img", name="beach.png, full size")
    expect(full).to_have_js_property("naturalWidth", 1280)
    bob.keyboard.press("Escape")
    expect(bob.get_by_role("dialog")).to_have_count(0)

    with bob.expect_download() as pdf_download:
        bob.get_by_role("button", name="Download report.pdf").click()
    assert pdf_download.value.suggested_filename == "report.pdf"
    saved = tmp_path / "report.pdf"
    pdf_download.value.save_as(saved)
    assert saved.read_bytes() == PDF
    with bob.expect_download() as text_download:
        bob.get_by_role("button", name="Download notes.txt").click()
    notes = tmp_path / "notes.txt"
    text_download.value.save_as(notes)
    assert notes.read_bytes() == b"bring sunscreen"


def test_files_that_cannot_be_sent_are_explained(new_page: NewPage) -> None:
    ana, bob = new_page(), new_page()
    ana_user, bob_user = unique("ana"), unique("bob")
    sign_up(ana, ana_user, "Ana Lima")
    sign_up(bob, bob_user, "Bob Stone")
    start_direct_chat(ana, bob_user[:5], "Bob Stone")
    ana.get_by_label("Choose files to attach").set_input_files(
        [
            # Refused before uploading (its type), and by the server (not really a PNG).
            {"name": "setup.exe", "mimeType": "application/octet-stream", "buffer": b"MZ"},
            {"name": "fake.png", "mimeType": "image/png", "buffer": b"<html>not an image</html>"},
        ]
    )
    alerts = ana.get_by_role("list", name="Files to send").get_by_role("alert")
    expect(
        alerts.filter(has_text="setup.exe: this type of file cannot be attached.")
    ).to_be_visible()
    expect(
        alerts.filter(has_text="fake.png: That file is not a PNG, JPEG, GIF or WebP image")
    ).to_be_visible()
    # Nothing to send; removing the failures empties the tray.
    expect(ana.get_by_role("button", name="Send")).to_be_disabled()
    ana.get_by_role("button", name="Remove setup.exe").click()
    ana.get_by_role("button", name="Remove fake.png").click()
    expect(ana.get_by_role("list", name="Files to send")).to_have_count(0)
