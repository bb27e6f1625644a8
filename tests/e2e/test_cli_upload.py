"""``pixstash upload`` run in-process against a real ``pixstash serve`` over HTTP."""

from __future__ import annotations

import json
import os
import re
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner, Result

from pixstash.cli.main import app
from pixstash.cli.upload_client import DirectUploadClient, RetryPolicy, UploadFailed
from tests import imagegen
from tests.e2e.conftest import Server, free_port
from tests.s3server import moto_s3

pytestmark = pytest.mark.e2e

MAX_UPLOAD_BYTES = 1_000_000
runner = CliRunner()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(
        tmp_path_factory.mktemp("cli-upload"),
        env_overrides={"PIXSTASH_MAX_UPLOAD_BYTES": str(MAX_UPLOAD_BYTES)},
    )
    running.start("--workers", "1")
    try:
        yield running
    finally:
        running.kill(signal.SIGTERM)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PIXSTASH_SERVER", "PIXSTASH_TOKEN", "PIXSTASH_ALBUM_TOKEN"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def images(tmp_path: Path) -> dict[str, Path]:
    files = {
        "photo.jpg": imagegen.jpeg_bytes(900, 600),
        "alpha.png": imagegen.png_alpha_bytes(),
        # a PNG named .gif: the client sends what the bytes say
        "misnamed.gif": imagegen.png_alpha_bytes(120, 80),
        "notes.txt": b"shopping list: milk, eggs, not an image\n" * 4,
        # a real JPEG, padded past the server's limit
        "huge.jpg": imagegen.jpeg_bytes(300, 200) + os.urandom(MAX_UPLOAD_BYTES),
    }
    paths = {}
    for name, data in files.items():
        paths[name] = tmp_path / name
        paths[name].write_bytes(data)
    return paths


def run(*args: str | Path) -> Result:
    return runner.invoke(app, ["upload", *map(str, args)])


def said(output: str) -> str:
    """The output with rich's wrapping and boxes undone."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", output).split())


def links_in(stdout: str) -> dict[str, dict[str, str]]:
    """``{file: {page, direct, delete}}`` from the human output."""
    found: dict[str, dict[str, str]] = {}
    current = ""
    for line in stdout.splitlines():
        match = re.fullmatch(r"  (page|direct|delete) +(\S+)", line)
        if match:
            found[current][match[1]] = match[2]
        else:
            current = line
            found[current] = {}
    return found


def test_several_files_print_links_that_resolve(server: Server, images: dict[str, Path]) -> None:
    files = [images["photo.jpg"], images["alpha.png"], images["misnamed.gif"]]
    result = run(*files, "--server", server.url)
    assert result.exit_code == 0, result.output
    links = links_in(result.stdout)
    assert list(links) == [str(f) for f in files]  # in the order given
    for file, link in links.items():
        assert set(link) == {"page", "direct", "delete"}
        assert re.fullmatch(rf"{server.url}/[0-9A-Za-z]{{7}}", link["page"])
        direct = httpx.get(link["direct"], timeout=30)
        assert direct.status_code == 200, file
        assert direct.headers["content-type"].startswith("image/")
        assert httpx.get(link["page"], timeout=30).status_code == 200
        assert httpx.get(link["delete"], timeout=30).status_code == 200  # the confirmation
    assert links[str(images["misnamed.gif"])]["direct"].endswith(".png")
    assert "3 uploaded, 0 failed" in result.stderr


def test_json_is_one_document_with_working_images(server: Server, images: dict[str, Path]) -> None:
    result = run(images["photo.jpg"], images["alpha.png"], "--json", "--server", server.url)
    assert result.exit_code == 0, result.output
    results = json.loads(result.stdout)  # stdout holds the JSON and nothing else
    assert [r["file"] for r in results] == [str(images["photo.jpg"]), str(images["alpha.png"])]
    assert all(r["ok"] for r in results)
    assert [r["image"]["type"] for r in results] == ["image/jpeg", "image/png"]
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for entry in results:
            image = entry["image"]
            assert client.get(image["links"]["full"]).status_code == 200
            assert client.get(f"/api/v1/images/{image['id']}").status_code == 200
            deleted = client.delete(
                f"/api/v1/images/{image['id']}", headers={"X-Delete-Token": image["delete_token"]}
            )
            assert deleted.status_code == 204  # the delete token printed is the real one
            assert client.get(image["links"]["full"]).status_code == 404


def test_refused_files_are_reported_and_the_others_still_upload(
    server: Server, images: dict[str, Path]
) -> None:
    files = [images["notes.txt"], images["photo.jpg"], images["huge.jpg"]]
    result = run(*files, "--json", "--server", server.url, "--parallel", "1")
    assert result.exit_code == 1, result.output
    notes, photo, huge = json.loads(result.stdout)
    assert notes["ok"] is False
    assert notes["error"]["status"] == 415
    assert notes["error"]["code"] == "unsupported-media-type"
    assert photo["ok"] is True
    assert httpx.get(photo["image"]["links"]["full"], timeout=30).status_code == 200
    assert huge["ok"] is False
    assert huge["error"]["status"] == 413
    assert huge["error"]["code"] == "file-too-large"
    assert "smaller file" in huge["error"]["message"]  # the server's own message
    assert "415 unsupported-media-type" in result.stderr
    assert "413 file-too-large" in result.stderr
    assert "1 uploaded, 2 failed" in result.stderr


def test_usage_errors_exit_2(
    server: Server, images: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    missing = run("photo.jpg", "nope.png", "--server", server.url)
    assert missing.exit_code == 2
    assert "'nope.png' does not exist" in said(missing.output)
    assert not missing.stdout.strip()  # nothing was uploaded
    bad_server = run(images["photo.jpg"], "--server", "ftp://example.org")
    assert bad_server.exit_code == 2
    assert "--server" in said(bad_server.output)


def test_a_server_that_is_down_is_a_clear_error(images: dict[str, Path]) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"
    result = run(
        images["photo.jpg"], images["alpha.png"], "--server", nobody, "--retries", "1",
        "--parallel", "1",
    )  # fmt: skip
    assert result.exit_code == 1
    text = said(result.stderr)
    tried = f"could not connect to {nobody}/api/v1/uploads (2 attempts)"
    assert f"photo.jpg: start: {tried}" in text
    assert f"alpha.png: not tried: start: {tried}" in text  # it would fail the same way
    assert "0 uploaded, 2 failed" in text


def test_the_client_retries_until_the_server_comes_up(
    tmp_path: Path, images: dict[str, Path]
) -> None:
    """The first attempt finds nothing listening; the client's backoff (here: starting the
    server instead of waiting) is followed by a successful retry."""
    (tmp_path / "later").mkdir()
    later = Server(tmp_path / "later")
    backoffs: list[float] = []

    def start_server_instead_of_waiting(delay: float) -> None:
        backoffs.append(delay)
        if later.process is None:
            later.start("--workers", "0")

    try:
        policy = RetryPolicy(attempts=3, sleep=start_server_instead_of_waiting)
        with DirectUploadClient(later.url, policy=policy) as client:
            image = client.upload(images["alpha.png"])
        assert backoffs == [0.5]
        assert httpx.get(image["links"]["full"], timeout=30).status_code == 200
    finally:
        later.kill(signal.SIGTERM)


def test_progress_bars_only_when_asked_without_a_terminal(
    server: Server, images: dict[str, Path]
) -> None:
    size = images["alpha.png"].stat().st_size
    quiet = run(images["alpha.png"], "--server", server.url)
    assert quiet.exit_code == 0, quiet.output
    assert "━" not in quiet.stderr
    shown = run(images["alpha.png"], "--server", server.url, "--progress")
    assert shown.exit_code == 0, shown.output
    assert "━" in shown.stderr
    assert f"{size}/{size} bytes" in shown.stderr  # the bar reached the whole file
    assert "✓" in shown.stderr
    assert links_in(shown.stdout)  # the links stay on stdout, untouched by the bars


def test_the_token_goes_to_the_api_only_and_is_never_printed(
    server: Server, images: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server checks the bearer token: an unknown one is refused (401), which shows it
    arrived. The upload URL is signed and gets no credentials (S3 refuses stray ones)."""
    token = "pxs-unknown-token-7d3f"
    seen: list[tuple[str, str | None]] = []

    def record(request: httpx.Request) -> None:
        seen.append((request.url.path, request.headers.get("authorization")))

    with DirectUploadClient(server.url, token) as client:
        client.api.event_hooks["request"].append(record)
        with pytest.raises(UploadFailed) as refused:
            client.upload(images["alpha.png"])
    assert seen == [("/api/v1/uploads", f"Bearer {token}")]
    assert (refused.value.status, refused.value.code) == (401, "invalid-token")

    seen.clear()
    with DirectUploadClient(server.url) as anonymous:
        anonymous.api.event_hooks["request"].append(record)
        anonymous.storage.event_hooks["request"].append(record)
        anonymous.upload(images["alpha.png"])
    assert [path.rsplit("/", 1)[-1] for path, _ in seen] == ["uploads", "data", "complete"]
    assert all(auth is None for _, auth in seen)

    monkeypatch.setenv("PIXSTASH_TOKEN", token)
    result = run(images["alpha.png"], "--server", server.url)
    assert result.exit_code == 1
    assert "401 invalid-token" in said(result.stderr)
    assert token not in result.output


def test_album_is_added_after_the_uploads_and_its_refusal_reported(
    server: Server, images: dict[str, Path]
) -> None:
    """No such album: the uploads succeed, the album step says so."""
    result = run(images["alpha.png"], "--album", "noalbum", "--server", server.url)
    assert result.exit_code == 1
    assert links_in(result.stdout)
    text = said(result.stderr)
    assert "not added to album noalbum: 404" in text
    assert "1 uploaded, 0 failed" in text


def test_uploads_go_into_an_anonymous_album_with_its_token(
    server: Server, images: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        album = client.post("/api/v1/albums", json={"title": "from the CLI"}).json()
        monkeypatch.setenv("PIXSTASH_ALBUM_TOKEN", album["delete_token"])
        files = [images["photo.jpg"], images["alpha.png"]]
        result = run(*files, "--album", album["id"], "--json", "--server", server.url)
        assert result.exit_code == 0, result.output
        uploaded = [entry["image"]["id"] for entry in json.loads(result.stdout)]
        assert f"added to album {album['id']}" in said(result.stderr)
        listed = client.get(f"/api/v1/albums/{album['id']}").json()
        assert sorted(image["id"] for image in listed["images"]) == sorted(uploaded)

        monkeypatch.setenv("PIXSTASH_ALBUM_TOKEN", "not-the-token")
        refused = run(images["photo.jpg"], "--album", album["id"], "--server", server.url)
        assert refused.exit_code == 1
        assert f"not added to album {album['id']}: 403" in said(refused.stderr)
        assert client.get(f"/api/v1/albums/{album['id']}").json()["image_count"] == 2


def test_uploads_go_into_the_users_own_album(server: Server, images: dict[str, Path]) -> None:
    """A logged-in user's images go into their own (private) album: no tokens needed."""
    user = runner.invoke(
        app,
        ["user", "create", "cli-album-owner", "--password-stdin"],
        input="correct horse battery\n",
        env=server.env,
    )
    assert user.exit_code == 0, user.output
    made = runner.invoke(app, ["token", "create", "cli-album-owner"], env=server.env)
    assert made.exit_code == 0, made.output
    token = made.stdout.strip()
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=server.url, timeout=30, headers=auth) as client:
        album = client.post("/api/v1/albums", json={"visibility": "private"}).json()
        assert album["delete_token"] is None
        result = run(
            images["alpha.png"], "--album", album["id"], "--token", token, "--server", server.url
        )
        assert result.exit_code == 0, result.output
        [(_, link)] = links_in(result.stdout).items()
        listed = client.get(f"/api/v1/albums/{album['id']}").json()
        assert [image["links"]["page"] for image in listed["images"]] == [link["page"]]


def test_direct_to_s3(tmp_path: Path, images: dict[str, Path]) -> None:
    """With S3 storage the file goes to the bucket's presigned POST, not the app."""
    with moto_s3() as s3:
        bucket = s3.new_bucket()
        s3_server = Server(tmp_path, env_overrides={"PIXSTASH_STORAGE_URL": s3.storage_url(bucket)})
        s3_server.start("--workers", "1")
        try:
            result = run(images["photo.jpg"], "--server", s3_server.url, "--json")
            assert result.exit_code == 0, result.output
            [entry] = json.loads(result.stdout)
            full = httpx.get(entry["image"]["links"]["full"], timeout=30)
            assert full.status_code == 200
            assert full.headers["content-type"] == "image/jpeg"
            stored = s3.client.list_objects_v2(Bucket=bucket).get("Contents", [])
            assert any(item["Key"].startswith("original/") for item in stored)
        finally:
            s3_server.kill(signal.SIGTERM)
