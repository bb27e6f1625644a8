"""The upload page with S3 storage, in headless Chromium against a real ``pixstash serve``.

The page sends the file with a presigned POST straight to the bucket (moto on loopback,
answering cross-origin requests as S3 does: tests/browser/bucket_cors.py), then completes
the upload on the app and shows the share link, whose page shows the image. The pages'
CSP must allow the bucket's origin, and the bucket must allow the app's origin: the CORS
rule ``pixstash storage setup`` installs. Without it the browser refuses the upload.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Request, expect

from tests.browser.bucket_cors import CorsMoto, cors_enforcing_moto
from tests.browser.support import (
    REPORT_CSP,
    UPLOAD_TIMEOUT_MS,
    Problems,
    free_port,
    jpeg_bytes,
    stop,
    wait_ready,
)
from tests.s3server import FAKE_AWS_ENV, use_fake_aws_credentials

pytestmark = pytest.mark.browser
PREFIX = "media"


@dataclass(frozen=True)
class S3App:
    base: str  # the app, as the browser sees it
    s3: CorsMoto
    bucket: str


@pytest.fixture(scope="module")
def s3() -> Iterator[CorsMoto]:
    with pytest.MonkeyPatch.context() as patch:
        use_fake_aws_credentials(patch)
        with cors_enforcing_moto() as endpoint:
            yield endpoint


@pytest.fixture(scope="module")
def app(
    browser: Browser, s3: CorsMoto, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[S3App]:
    root = tmp_path_factory.mktemp("s3-server")
    bucket = "pixstash-browser"
    s3.client.create_bucket(Bucket=bucket)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIXSTASH_", "AWS_"))}
    env.update(FAKE_AWS_ENV)
    env.update(
        PIXSTASH_DATABASE_URL=f"sqlite:///{root}/p.db",
        PIXSTASH_STORAGE_URL=f"s3://{bucket}/{PREFIX}?endpoint={s3.url}&region=us-east-1",
        PIXSTASH_PUBLIC_URL=base,
        PIXSTASH_TMP_DIR=str(root / "tmp"),
        PIXSTASH_ENVIRONMENT="test",
    )
    pixstash = str(Path(sys.executable).parent / "pixstash")
    setup = subprocess.run(  # what a deployer runs once
        [pixstash, "storage", "setup"], cwd=root, env=env, capture_output=True, timeout=60
    )
    said = " ".join(setup.stderr.decode().split())
    assert setup.returncode == 0, said
    assert f"set pixstash-direct-upload@{PREFIX}: allow POST from {base}" in said

    log = root / "server.log"
    command = [pixstash, "serve", "--port", str(port), "--workers", "1"]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_ready(base, proc, log)
        yield S3App(base, s3, bucket)
    finally:
        stop(proc)


@pytest.fixture
def page(browser: Browser, app: S3App) -> Iterator[tuple[Page, Problems, list[Request]]]:
    context = browser.new_context(base_url=app.base, viewport={"width": 1280, "height": 900})
    context.add_init_script(REPORT_CSP)
    problems = Problems()
    requests: list[Request] = []
    tab = context.new_page()
    tab.on("console", problems.on_console)
    tab.on("pageerror", problems.on_page_error)
    tab.on("request", lambda request: requests.append(request))
    try:
        yield tab, problems, requests
    finally:
        context.close()


def bucket_keys(app: S3App) -> list[str]:
    listed = app.s3.client.list_objects_v2(Bucket=app.bucket)
    return sorted(item["Key"] for item in listed.get("Contents", []))


def test_the_page_uploads_straight_to_the_bucket(
    page: tuple[Page, Problems, list[Request]], app: S3App, tmp_path: Path
) -> None:
    tab, problems, requests = page
    photo = tmp_path / "bucket.jpg"
    photo.write_bytes(jpeg_bytes(900, 600))

    tab.goto("/")
    expect(tab.locator("html")).to_have_class(re.compile(r"\bjs\b"))
    tab.set_input_files("#file-input", [photo])
    share = tab.locator("#uploads a.share-link")
    expect(share).to_have_count(1, timeout=UPLOAD_TIMEOUT_MS)
    problems.assert_none()

    # The file went from the page to the bucket, not through the app.
    bucket_url = f"{app.s3.url}/{app.bucket}"
    sent = [r for r in requests if r.method == "POST" and r.url == bucket_url]
    assert len(sent) == 1, [f"{r.method} {r.url}" for r in requests]
    assert sent[0].header_value("origin") == app.base
    assert not any(r.url.endswith("/data") for r in requests)  # the app's own upload URL
    # ... after a preflight the bucket's CORS rule allowed, as S3 would have.
    cross = [(c.method, c.path, c.origin, c.allowed) for c in app.s3.seen]
    assert ("OPTIONS", f"/{app.bucket}", app.base, True) in cross
    assert ("POST", f"/{app.bucket}", app.base, True) in cross
    # Completing moved it out of incoming/ into the original's place.
    keys = bucket_keys(app)
    assert not [k for k in keys if k.startswith(f"{PREFIX}/incoming/")], keys
    assert [k for k in keys if k.startswith(f"{PREFIX}/original/")], keys

    page_url = share.get_attribute("href")
    assert page_url is not None
    assert re.fullmatch(rf"{re.escape(app.base)}/[0-9A-Za-z]{{7}}", page_url), page_url
    tab.goto(page_url)
    tab.wait_for_function(
        "() => document.getElementById('image').naturalWidth > 0", timeout=UPLOAD_TIMEOUT_MS
    )
    assert tab.locator("#image").get_attribute("width") == "900"
    tab.screenshot(path=tmp_path / "s3-share-page.png", full_page=True)
    problems.assert_none()


def test_without_the_cors_rule_the_browser_refuses(
    page: tuple[Page, Problems, list[Request]], app: S3App, tmp_path: Path
) -> None:
    """The bucket, not moto's leniency, decides: the test above depends on the rule."""
    tab, problems, _requests = page
    rules = app.s3.client.get_bucket_cors(Bucket=app.bucket)["CORSRules"]
    app.s3.client.delete_bucket_cors(Bucket=app.bucket)
    try:
        photo = tmp_path / "refused.jpg"
        photo.write_bytes(jpeg_bytes(300, 200))
        tab.goto("/")
        expect(tab.locator("html")).to_have_class(re.compile(r"\bjs\b"))
        tab.set_input_files("#file-input", [photo])
        failed = tab.locator("#uploads .upload-item.is-error")
        expect(failed).to_have_count(1, timeout=UPLOAD_TIMEOUT_MS)
        expect(failed.locator(".upload-status")).to_contain_text("Network error")
        assert any("CORS" in message for message in problems.seen), problems.seen
        assert not any("Content Security Policy" in m for m in problems.seen), problems.seen
    finally:
        app.s3.client.put_bucket_cors(Bucket=app.bucket, CORSConfiguration={"CORSRules": rules})
