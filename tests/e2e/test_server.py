"""End to end: the real server process, driven over HTTP."""

from __future__ import annotations

import io
import os
import signal
import sqlite3
import subprocess
from collections.abc import Iterator

import httpx
import pytest
from PIL import Image

from tests import imagegen
from tests.e2e.conftest import PIXSTASH, Server, wait_until

pytestmark = pytest.mark.e2e


def upload(client: httpx.Client, data: bytes, name: str = "x") -> dict[str, object]:
    response = client.post("/api/v1/images", files={"image": (name, data, "image/png")})
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


def wait_ready(client: httpx.Client, image_ids: list[str], timeout: float = 60) -> None:
    def all_ready() -> bool:
        statuses = [client.get(f"/api/v1/images/{i}").json()["status"] for i in image_ids]
        assert "failed" not in statuses
        return all(s == "ready" for s in statuses)

    wait_until(all_ready, timeout, f"images {image_ids} to become ready")


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_upload_process_serve_and_delete(server: Server) -> None:
    server.start("--workers", "2")
    with httpx.Client(base_url=server.url, timeout=30) as client:
        jpeg = upload(client, imagegen.jpeg_bytes(1200, 800, orientation=6, gps=True), "p.jpg")
        png = upload(client, imagegen.png_alpha_bytes(500, 300))
        gif = upload(client, imagegen.gif_bytes(6, (200, 100), duration=80))
        webp = upload(client, imagegen.webp_bytes(900, 600))
        ids = [str(i["id"]) for i in (jpeg, png, gif, webp)]
        wait_ready(client, ids)

        # JPEG: orientation applied, GPS gone, every eager variant in its box
        assert (jpeg["width"], jpeg["height"]) == (800, 1200)
        boxes = {"": (800, 1200), "l": (427, 640), "m": (213, 320), "t": (107, 160)}
        for suffix, size in boxes.items():
            response = client.get(f"/{jpeg['id']}{suffix}.jpg")
            assert response.status_code == 200
            assert response.headers["content-type"] == "image/jpeg"
            assert imagegen.GPS_MARKER.encode() not in response.content
            served = decode(response.content)
            assert served.size == size
            assert not served.getexif()
            rgb = served.convert("RGB")
            right = rgb.getpixel((served.width - 3, 3))
            assert isinstance(right, tuple)
            assert right[0] > 180
            assert right[2] < 80

        # PNG keeps alpha; GIF keeps its frames; WebP served as WebP
        png_full = decode(client.get(f"/{png['id']}.png").content)
        corner = png_full.convert("RGBA").getpixel((499, 299))
        assert isinstance(corner, tuple)
        assert corner[3] == 0
        gif_thumb = Image.open(io.BytesIO(client.get(f"/{gif['id']}t.gif").content))
        assert gif_thumb.n_frames == 6
        assert gif_thumb.info["duration"] == 80
        webp_medium = client.get(f"/{webp['id']}m.webp")
        assert webp_medium.headers["content-type"] == "image/webp"
        assert decode(webp_medium.content).size == (320, 213)

        # delivery headers: immutable, strong ETag, 304, Range, HEAD
        url = f"/{jpeg['id']}t.jpg"
        first = client.get(url)
        etag = first.headers["etag"]
        assert etag.startswith('"')
        assert first.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert first.headers["x-content-type-options"] == "nosniff"
        assert first.headers["content-security-policy"].startswith("default-src 'none'")
        assert client.get(url, headers={"if-none-match": etag}).status_code == 304
        partial = client.get(url, headers={"range": "bytes=0-99"})
        assert partial.status_code == 206
        assert partial.content == first.content[:100]
        head = client.head(url)
        assert head.status_code == 200
        assert head.content == b""
        assert head.headers["content-length"] == str(len(first.content))
        big = client.get(f"/{jpeg['id']}.jpg", headers={"range": "bytes=10-19"})
        assert big.status_code == 206
        assert len(big.content) == 10

        # on-demand variants: small square, huge
        square = decode(client.get(f"/{jpeg['id']}s.jpg").content)
        assert square.size == (90, 90)
        assert decode(client.get(f"/{jpeg['id']}h.webp").content).size == (683, 1024)

        # delete: everything answers 404 and the blobs are gone
        token = str(jpeg["delete_token"])
        assert client.delete(f"/api/v1/images/{jpeg['id']}").status_code == 403
        deleted = client.delete(f"/api/v1/images/{jpeg['id']}", headers={"x-delete-token": token})
        assert deleted.status_code == 204
        for path in (f"/{jpeg['id']}", f"/api/v1/images/{jpeg['id']}", url, f"/{jpeg['id']}.jpg"):
            assert client.get(path).status_code == 404, path
    blobs = server.root / "blobs"
    remaining = {p.name.split(".")[0] for p in blobs.rglob("*") if p.is_file()}
    hashes = _blob_hashes(server)
    assert remaining == hashes
    assert len(hashes) == 3


def _blob_hashes(server: Server) -> set[str]:
    with sqlite3.connect(server.root / "pixstash.db") as conn:
        return {row[0] for row in conn.execute("SELECT hash FROM blobs")}


def _pending_jobs(server: Server) -> int:
    with sqlite3.connect(server.root / "pixstash.db") as conn:
        count: int = conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]
        return count


def test_kill_9_mid_processing_loses_nothing(server: Server) -> None:
    server.start("--workers", "1")
    with httpx.Client(base_url=server.url, timeout=30) as client:
        ids = [str(upload(client, imagegen.jpeg_bytes(2400, 1800, seed=i))["id"]) for i in range(8)]
    server.kill()  # SIGKILL to the whole process group, jobs still running
    assert _pending_jobs(server) > 0, "the kill came too late to test anything"
    server.start("--workers", "2")
    with httpx.Client(base_url=server.url, timeout=30) as client:
        wait_ready(client, ids, timeout=120)
        for image_id in ids:
            for suffix in ("", "t", "m", "l"):
                response = client.get(f"/{image_id}{suffix}.jpg")
                assert response.status_code == 200
                decode(response.content)  # a truncated file would raise here
    assert _pending_jobs(server) == 0
    staging = server.root / "blobs" / ".staging"
    assert not staging.exists() or list(staging.iterdir()) == []


def test_separate_worker_process_runs_the_jobs(server: Server) -> None:
    server.start("--workers", "0")  # the server itself runs no jobs
    with httpx.Client(base_url=server.url, timeout=30) as client:
        ids = [str(upload(client, imagegen.jpeg_bytes(600, 400, seed=i))["id"]) for i in range(3)]
        assert client.get(f"/api/v1/images/{ids[0]}").json()["status"] == "pending"
        worker = subprocess.Popen(
            [str(PIXSTASH), "worker", "--concurrency", "2"],
            env=server.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            wait_ready(client, ids)
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            assert worker.wait(timeout=15) == 0


def test_oversized_body_is_refused_before_it_is_read(server: Server) -> None:
    server.env_overrides["PIXSTASH_MAX_UPLOAD_BYTES"] = "1000000"
    server.start()
    sent = 0

    def body() -> Iterator[bytes]:
        nonlocal sent
        for _ in range(2000):  # 128 MB if it were all sent
            sent += 65536
            yield b"\xff\xd8\xff" + b"\0" * 65533

    with httpx.Client(base_url=server.url, timeout=30) as client:
        response = client.post("/api/v1/images", content=body())
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "file-too-large"
        assert sent < 64 * 1024 * 1024
        assert client.get("/healthz").status_code == 200
    tmp = server.root / "tmp"
    assert not tmp.exists() or list(tmp.iterdir()) == []
