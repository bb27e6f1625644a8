"""The web UI in headless Chromium against a real ``pixstash serve`` process.

Upload two images with the file picker and one by pasting, watch the progress bars, follow a
share link, check the unfurl tags, embed codes and Copy button, then delete through the
confirmation page. Every page must run without console errors or CSP violations.
"""

from __future__ import annotations

import base64
import contextlib
import io
import os
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, Route, expect

from pixstash.processing.placeholder import describe
from tests.browser.linkhost import serving
from tests.browser.support import (
    REPORT_CSP,
    UPLOAD_TIMEOUT_MS,
    Problems,
    free_port,
    jpeg_bytes,
    png_bytes,
    stop,
    wait_ready,
)

pytestmark = pytest.mark.browser

PASTE_FILE = """
([b64, name]) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const data = new DataTransfer();
  data.items.add(new File([bytes], name, { type: "image/png" }));
  const event = new ClipboardEvent("paste", {
    clipboardData: data, bubbles: true, cancelable: true,
  });
  document.body.dispatchEvent(event);
  return event.defaultPrevented;
}
"""


@pytest.fixture(scope="module")
def server_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The server's working directory; its metadata database is ``p.db`` in it."""
    return tmp_path_factory.mktemp("server")


@pytest.fixture(scope="module")
def link_host() -> Iterator[str]:
    """An image host on loopback, which the server is told to fetch links from."""
    with serving({"/linked.png": ("image/png", png_bytes(240, 180, (200, 40, 160)))}) as port:
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def server(browser: Browser, server_root: Path, link_host: str) -> Iterator[str]:
    root = server_root
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIXSTASH_")}
    env.update(
        PIXSTASH_DATABASE_URL=f"sqlite:///{root}/p.db",
        PIXSTASH_STORAGE_URL=f"file://{root}/blobs",
        PIXSTASH_TMP_DIR=str(root / "tmp"),
        PIXSTASH_ENVIRONMENT="test",
        # loopback is refused by default; this one test host is allowed
        PIXSTASH_URL_INGEST_ALLOW_NETWORKS="127.0.0.1/32",
        PIXSTASH_URL_INGEST_PORTS=link_host.rsplit(":", 1)[1],
    )
    log = root / "server.log"
    command = [str(Path(sys.executable).parent / "pixstash"), "serve"]
    command += ["--port", str(port), "--workers", "1"]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(base, proc, log)
        yield base
    finally:
        stop(proc)


@pytest.fixture
def page(browser: Browser, server: str) -> Iterator[tuple[Page, Problems]]:
    context = browser.new_context(
        base_url=server,
        viewport={"width": 1280, "height": 900},
        permissions=["clipboard-read", "clipboard-write"],
    )
    context.add_init_script(REPORT_CSP)
    problems = Problems()
    tab = context.new_page()
    tab.on("console", problems.on_console)
    tab.on("pageerror", problems.on_page_error)
    try:
        yield tab, problems
    finally:
        context.close()


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_upload_share_copy_and_delete(
    page: tuple[Page, Problems], server: str, tmp_path: Path
) -> None:
    tab, problems = page
    jpeg = write(tmp_path / "photo.jpg", jpeg_bytes())
    png = write(tmp_path / "diagram.png", png_bytes())

    tab.goto("/")
    expect(tab.locator("html")).to_have_class(re.compile(r"\bjs\b"))  # the module ran
    max_mb = tab.locator("#upload-form").get_attribute("data-max-upload-mb")
    assert max_mb is not None
    assert float(max_mb) > 0
    tab.fill("#title", "Browser test")
    tab.set_input_files("#file-input", [jpeg, png])

    items = tab.locator("#uploads .upload-item")
    share_links = tab.locator("#uploads a.share-link")
    expect(share_links).to_have_count(2, timeout=UPLOAD_TIMEOUT_MS)
    expect(tab.locator("#uploads .upload-item.is-done")).to_have_count(2)
    bars = tab.eval_on_selector_all("#uploads progress", "els => els.map(e => [e.value, e.max])")
    assert len(bars) == 2
    assert all(value == maximum and maximum > 0 for value, maximum in bars), bars
    previews = tab.eval_on_selector_all(".upload-preview", "els => els.map(e => e.src)")
    assert all(src.startswith("blob:") for src in previews), previews

    photo = items.filter(has_text="photo.jpg")
    page_url = photo.locator("a.share-link").get_attribute("href")
    assert page_url is not None
    assert re.fullmatch(rf"{re.escape(server)}/[0-9A-Za-z]{{7}}", page_url), page_url
    image_id = page_url.rsplit("/", 1)[1]
    assert photo.locator("input[id$='-page']").input_value() == page_url
    assert photo.locator("input[id$='-direct']").input_value() == f"{page_url}.jpg"
    delete_url = photo.locator("input[id$='-delete']").input_value()
    assert delete_url.startswith(f"{page_url}/delete/")
    expect(photo.locator(".delete-note")).to_contain_text("shown only once")
    tab.screenshot(path=tmp_path / "upload-page.png", full_page=True)
    problems.assert_none()

    # The share page: the image loads, unfurl tags point at the large variant.
    tab.goto(page_url)
    tab.wait_for_function("() => document.getElementById('image').naturalWidth > 0")
    img = tab.locator("#image")
    assert img.evaluate("i => i.naturalWidth") > 0
    assert img.get_attribute("alt") == "Browser test"
    assert (img.get_attribute("width"), img.get_attribute("height")) == ("1200", "800")
    large_url = f"{server}/{image_id}l.jpg"
    assert img.get_attribute("src") == large_url
    assert img.evaluate("i => i.currentSrc") in (large_url, f"{page_url}.jpg")
    og_image = tab.locator('meta[property="og:image"]').get_attribute("content")
    assert og_image == large_url
    assert tab.locator('meta[property="og:image:width"]').get_attribute("content") == "640"
    assert tab.locator('meta[name="twitter:card"]').get_attribute("content") == (
        "summary_large_image"
    )
    oembed = tab.locator('link[rel="alternate"][type="application/json+oembed"]')
    assert page_url in (oembed.get_attribute("href") or "")
    expect(tab.locator("h1")).to_have_text("Browser test")
    expect(tab.locator(".facts")).to_contain_text("1200 \u00d7 800")

    markdown = tab.locator("#embed-markdown").input_value()
    assert markdown == f"[![Browser test]({large_url})]({page_url})"
    assert tab.locator("#embed-bbcode").input_value() == (
        f"[url={page_url}][img]{large_url}[/img][/url]"
    )
    assert tab.locator("#embed-html").input_value() == (
        f'<a href="{page_url}"><img src="{large_url}" alt="Browser test"></a>'
    )
    copy = tab.locator('button[data-copy-target="link-page"]')
    copy.click()
    expect(copy).to_have_text("Copied")
    assert tab.evaluate("navigator.clipboard.readText()") == page_url
    tab.screenshot(path=tmp_path / "share-page.png", full_page=True)
    tab.set_viewport_size({"width": 390, "height": 844})
    tab.screenshot(path=tmp_path / "share-page-mobile.png", full_page=True)
    problems.assert_none()

    # The delete link from the upload asks first, then deletes.
    tab.goto(delete_url)
    expect(tab.locator("h1")).to_have_text("Delete this image?")
    tab.click("#confirm-delete")
    expect(tab.locator("h1")).to_have_text("Image deleted")
    problems.assert_none()
    gone = tab.request.get(page_url, headers={"accept": "text/html"})
    assert gone.status == 404
    assert "couldn't find" in gone.text()


def test_paste_and_refused_file(page: tuple[Page, Problems], tmp_path: Path) -> None:
    tab, problems = page
    tab.goto("/")
    expect(tab.locator("html")).to_have_class(re.compile(r"\bjs\b"))

    pasted = base64.b64encode(png_bytes(200, 150, (120, 200, 80))).decode()
    assert tab.evaluate(PASTE_FILE, [pasted, "pasted.png"]) is True
    expect(tab.locator("#uploads a.share-link")).to_have_count(1, timeout=UPLOAD_TIMEOUT_MS)

    fake = {"name": "notes.png", "mimeType": "image/png", "buffer": b"just some text"}
    tab.set_input_files("#file-input", files=[fake])
    refused = tab.locator("#uploads .upload-item.is-error")
    expect(refused).to_have_count(1, timeout=UPLOAD_TIMEOUT_MS)
    # The API's own error.message, not a generic failure.
    expect(refused.locator(".upload-status")).to_contain_text("not an accepted image type")
    expect(tab.locator("#upload-live")).to_contain_text("notes.png")
    # Chromium logs the refused XHR's 415 status to the console; nothing else is allowed.
    problems.assert_none(allowed=("status of 415",))
    tab.screenshot(path=tmp_path / "upload-paste-refused.png", full_page=True)


PASTE_TEXT = """
(text) => {
  const data = new DataTransfer();
  data.setData("text/plain", text);
  const event = new ClipboardEvent("paste", {
    clipboardData: data, bubbles: true, cancelable: true,
  });
  (document.activeElement || document.body).dispatchEvent(event);  // as a real paste
  return event.defaultPrevented;
}
"""


def test_upload_from_a_pasted_link_and_a_refused_one(
    page: tuple[Page, Problems], link_host: str, tmp_path: Path
) -> None:
    tab, problems = page
    tab.goto("/")
    expect(tab.locator("html")).to_have_class(re.compile(r"\bjs\b"))

    # a link pasted on the page (not into a field) is uploaded by link
    assert tab.evaluate(PASTE_TEXT, f"{link_host}/linked.png") is True
    done = tab.locator("#uploads .upload-item.is-done")
    expect(done).to_have_count(1, timeout=UPLOAD_TIMEOUT_MS)
    share = done.locator("a.share-link").get_attribute("href")
    assert share is not None
    info = tab.request.get(f"/api/v1/images/{share.rsplit('/', 1)[1]}")
    assert info.status == 200, info.text()
    assert (info.json()["width"], info.json()["height"]) == (240, 180)

    # plain text pasted into the title field stays there
    tab.locator("#title").focus()
    assert tab.evaluate(PASTE_TEXT, "http://example.com/") is False

    # a private address, typed into the link field: the API's own message
    port = link_host.rsplit(":", 1)[1]  # an allowed port: the address decides
    tab.fill("#link-url", f"http://10.0.0.1:{port}/cat.png")
    tab.locator("#link-form button[type=submit]").click()
    refused = tab.locator("#uploads .upload-item.is-error")
    expect(refused).to_have_count(1, timeout=UPLOAD_TIMEOUT_MS)
    expect(refused.locator(".upload-status")).to_contain_text("private network")
    problems.assert_none(allowed=("status of 422",))
    tab.screenshot(path=tmp_path / "upload-link.png", full_page=True)


def test_share_page_shows_the_placeholder_until_the_image_loads(
    page: tuple[Page, Problems], server_root: Path, tmp_path: Path
) -> None:
    tab, problems = page
    photo = jpeg_bytes()
    uploaded = tab.request.post(
        "/api/v1/images", data=photo, headers={"content-type": "image/jpeg"}
    )
    assert uploaded.status == 201, uploaded.text()
    image_id = uploaded.json()["id"]
    # The server's own job records a placeholder too: let it finish first, so the one
    # written below is the one the page gets.
    deadline = time.monotonic() + 30
    while tab.request.get(f"/api/v1/images/{image_id}").json()["status"] == "pending":
        assert time.monotonic() < deadline, "the image was not processed in 30 s"
    # Recorded here directly, as the processing job does: the page must not care who.
    placeholder = describe(Image.open(io.BytesIO(photo)).resize((160, 107)))
    with contextlib.closing(sqlite3.connect(server_root / "p.db", timeout=30)) as db, db:
        db.execute(
            "UPDATE blobs SET placeholder = ?, colour = ? "
            "WHERE hash = (SELECT blob_hash FROM images WHERE id = ?)",
            (placeholder.blurhash, placeholder.colour, image_id),
        )

    held: list[Route] = []  # the image's bytes wait until the placeholder has been seen

    def hold(route: Route) -> None:
        held.append(route)

    tab.route("**/*.jpg", hold)
    tab.goto(f"/{image_id}", wait_until="domcontentloaded")
    image = tab.locator("#image")
    expect(image).to_have_class(re.compile(r"\bis-loading\b"))
    style = image.evaluate(
        """i => ({image: i.style.backgroundImage, colour: getComputedStyle(i).backgroundColor,
                 width: i.getBoundingClientRect().width, height: i.getBoundingClientRect().height,
                 loaded: i.naturalWidth})"""
    )
    assert style["image"].startswith('url("data:image/png;base64,'), style
    red, green, blue = (int(placeholder.colour[at : at + 2], 16) for at in (1, 3, 5))
    assert style["colour"] == f"rgb({red}, {green}, {blue})"
    assert style["loaded"] == 0
    assert style["height"] > 0
    assert abs(style["width"] / style["height"] - 1200 / 800) < 0.02  # the box is reserved
    tab.screenshot(path=tmp_path / "share-page-loading.png")

    assert held
    for route in held:
        route.continue_()
    tab.unroute("**/*.jpg")
    expect(image).not_to_have_class(re.compile(r"\bis-loading\b"))
    settled = image.evaluate(
        "i => ({image: i.style.backgroundImage, colour: i.style.backgroundColor,"
        " loaded: i.naturalWidth})"
    )
    assert settled["loaded"] > 0
    assert (settled["image"], settled["colour"]) == ("", "")
    problems.assert_none()


def test_share_page_plays_an_animation_as_video(page: tuple[Page, Problems]) -> None:
    tab, problems = page
    frames = [Image.new("RGB", (160, 90), (40 + 20 * i, 30, 90)) for i in range(8)]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=60, loop=0)
    uploaded = tab.request.post(
        "/api/v1/images", data=out.getvalue(), headers={"content-type": "image/gif"}
    )
    assert uploaded.status == 201, uploaded.text()
    image_id = uploaded.json()["id"]

    tab.goto(f"/{image_id}")
    tab.wait_for_function(
        "document.querySelector('video#image')?.readyState >= 2", timeout=UPLOAD_TIMEOUT_MS
    )
    state = tab.evaluate(
        """() => { const v = document.querySelector('video#image');
                   return {src: v.currentSrc, muted: v.muted, loop: v.loop,
                           width: v.videoWidth, height: v.videoHeight}; }"""
    )

    assert state["src"].endswith(f"/{image_id}.mp4")
    assert state["muted"] is True
    assert state["loop"] is True
    assert (state["width"], state["height"]) == (160, 90)
    problems.assert_none()


def test_upload_options_visibility_and_expiry(
    page: tuple[Page, Problems], server: str, tmp_path: Path
) -> None:
    """The page's pickers reach the API: a public image that deletes itself after a day
    is listed on Recent. Anonymous visitors are not offered "Only me"."""
    tab, problems = page
    photo = write(tmp_path / "options.jpg", jpeg_bytes())
    tab.goto("/")
    choices = tab.eval_on_selector_all("#visibility option", "els => els.map(e => e.value)")
    assert choices == ["unlisted", "public"]
    tab.select_option("#visibility", "public")
    tab.select_option("#expires-in", "1d")
    tab.set_input_files("#file-input", [photo])
    link = tab.locator("#uploads a.share-link")
    expect(link).to_have_count(1, timeout=UPLOAD_TIMEOUT_MS)
    image_id = (link.get_attribute("href") or "").rsplit("/", 1)[1]
    info = tab.request.get(f"{server}/api/v1/images/{image_id}").json()
    assert info["visibility"] == "public"
    created = datetime.fromisoformat(info["created_at"])
    assert datetime.fromisoformat(info["expires_at"]) - created == timedelta(days=1)
    tab.goto("/recent")
    expect(tab.locator(f'a[href$="/{image_id}"]').first).to_be_visible()
    problems.assert_none()
