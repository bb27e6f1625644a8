"""End to end behind nginx: the shipped deploy/nginx/pixstash.conf in front of two real
``pixstash serve`` processes sharing one SQLite database and one blob directory."""

from __future__ import annotations

import re
import signal
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests import imagegen
from tests.e2e.conftest import Server, wait_until
from tests.e2e.nginx import ACCEL_PREFIX, Nginx, nginx_binary
from tests.e2e.test_server import upload, wait_ready

pytestmark = pytest.mark.e2e


@dataclass
class Cluster:
    servers: list[Server]
    nginx: Nginx

    @property
    def blobs(self) -> Path:
        return self.servers[0].root / "blobs"

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.nginx.url, timeout=30)

    def log_lines(self, uri: str, server_name: str) -> list[str]:
        """Access log lines of one server block (edge ``_`` or ``pixstash-relay``)."""
        pattern = re.compile(rf"\] {re.escape(server_name)} \"\w+ {re.escape(uri)} ")
        lines = self.nginx.access_log.read_text().splitlines()
        return [line for line in lines if pattern.search(line)]


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    nginx_binary()  # skip (or fail under CI) before starting anything
    root = tmp_path / "app"
    root.mkdir()
    overrides = {
        "PIXSTASH_ACCEL_REDIRECT_PREFIX": ACCEL_PREFIX,
        # no in-process media cache: every media answer is a file, so an X-Accel-Redirect
        "PIXSTASH_MEDIA_CACHE_BYTES": "0",
    }
    servers = [Server(root, env_overrides=dict(overrides)) for _ in range(2)]
    proxy = Nginx(tmp_path / "nginx", [f"127.0.0.1:{s.port}" for s in servers], root / "blobs")
    try:
        for server in servers:  # one after the other: the first one migrates
            server.start("--workers", "1")
        proxy.start()
        yield Cluster(servers, proxy)
    finally:
        proxy.stop()
        for server in servers:
            server.kill(signal.SIGTERM)


def test_shipped_config_passes_nginx_t(tmp_path: Path) -> None:
    proxy = Nginx(tmp_path, ["127.0.0.1:1", "127.0.0.1:2"], tmp_path / "blobs")
    checked = subprocess.run(proxy.command("-t"), capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stderr


def test_media_through_x_accel_redirect_and_the_cache(cluster: Cluster) -> None:
    with cluster.client() as client:
        created = upload(client, imagegen.jpeg_bytes(1200, 800), "p.jpg")
        image_id = str(created["id"])
        wait_ready(client, [image_id])
        url = f"/{image_id}m.jpg"

        # the app alone: headers and X-Accel-Redirect, no body
        direct = httpx.get(f"{cluster.servers[0].url}{url}")
        assert direct.status_code == 200
        assert direct.content == b""
        accel = direct.headers["x-accel-redirect"]
        assert accel.startswith(ACCEL_PREFIX)
        stored = (cluster.blobs / accel.removeprefix(ACCEL_PREFIX)).read_bytes()

        # through nginx: the stored bytes with the app's headers; the relay followed it
        first = client.get(url)
        assert first.status_code == 200
        assert first.content == stored
        assert first.headers["x-cache-status"] == "MISS"
        for name in ("etag", "cache-control", "content-type", "x-content-type-options"):
            assert first.headers.get_list(name) == [direct.headers[name]], name
        assert first.headers["content-security-policy"] == direct.headers["content-security-policy"]
        assert "x-accel-redirect" not in first.headers
        wait_until(lambda: cluster.log_lines(url, "pixstash-relay") != [], 5, "the relay log")
        (relayed,) = cluster.log_lines(url, "pixstash-relay")
        assert f'accel="{accel}"' in relayed
        assert " ustatus=200 ubytes=0 " in relayed  # the app sent no body

        # again: a cache hit, with the same headers; Range, HEAD and 304 answered by nginx
        second = client.get(url)
        assert second.headers["x-cache-status"] == "HIT"
        assert second.content == stored
        assert second.headers["etag"] == direct.headers["etag"]
        partial = client.get(url, headers={"range": "bytes=10-19"})
        assert partial.status_code == 206
        assert partial.content == stored[10:20]
        head = client.head(url)
        assert head.status_code == 200
        assert head.content == b""
        assert head.headers["content-length"] == str(len(stored))
        etag = direct.headers["etag"]
        assert client.get(url, headers={"if-none-match": etag}).status_code == 304
        assert len(cluster.log_lines(url, "pixstash-relay")) == 1  # nothing more upstream

        # the blob location is internal: a client cannot name a storage key
        assert client.get(accel).status_code == 404


def test_a_burst_of_misses_makes_one_upstream_request(cluster: Cluster) -> None:
    with cluster.client() as client:
        image_id = str(upload(client, imagegen.jpeg_bytes(900, 600))["id"])
        wait_ready(client, [image_id])
    url = f"/{image_id}h.webp"  # on demand: rendered by the first request

    def fetch(_: int) -> tuple[int, bytes]:
        with cluster.client() as client:
            response = client.get(url)
            return response.status_code, response.content

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(fetch, range(8)))
    assert {status for status, _ in results} == {200}
    assert len({body for _, body in results}) == 1
    wait_until(lambda: len(cluster.log_lines(url, "_")) == 8, 5, "8 edge log lines")
    assert len(cluster.log_lines(url, "pixstash-relay")) == 1


def test_oversized_uploads_get_413(cluster: Cluster) -> None:
    jpeg_start = b"\xff\xd8\xff\xe0"
    with cluster.client() as client:
        # beyond nginx's client_max_body_size (21m): refused by nginx, in the API's shape
        refused = client.post("/api/v1/images", content=jpeg_start + b"\0" * (22 * 2**20))
        assert refused.status_code == 413
        assert refused.json()["error"]["code"] == "file-too-large"
        # within nginx's limit, beyond PIXSTASH_MAX_UPLOAD_BYTES: streamed, refused by the app
        too_big = client.post("/api/v1/images", content=jpeg_start + b"\0" * (20 * 2**20 + 1))
        assert too_big.status_code == 413
        assert too_big.json()["error"]["code"] == "file-too-large"
        assert client.get("/healthz").status_code == 200


def test_stopping_one_server_keeps_gets_working(cluster: Cluster) -> None:
    with cluster.client() as client:
        image_id = str(upload(client, imagegen.jpeg_bytes(800, 600))["id"])
        wait_ready(client, [image_id])
        cluster.servers[0].kill(signal.SIGTERM)
        for _ in range(6):  # least_conn alternates: each instance is tried
            assert client.get(f"/api/v1/images/{image_id}").status_code == 200
        for suffix in ("", "l", "m", "t", "s"):  # cache misses: through the relay
            response = client.get(f"/{image_id}{suffix}.png")
            assert response.status_code == 200, response.text
            assert response.headers["content-type"] == "image/png"
        assert upload(client, imagegen.png_alpha_bytes(64, 64))["id"]
        cluster.servers[1].kill(signal.SIGTERM)
        down = client.get(f"/api/v1/images/{image_id}")
        assert down.status_code == 503
        assert down.json()["error"]["code"] == "backend-unavailable"
        assert down.headers["retry-after"] == "5"
