"""Server-rendered pages: upload page, share page with unfurl tags, oEmbed, errors."""

from __future__ import annotations

import base64
import io
import re
import socket
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from PIL import Image

from pixstash.domain.model import Placeholder
from pixstash.processing.placeholder import describe
from pixstash.storage.local import LocalBlobStore
from tests import imagegen
from tests.helpers import container_of

pytestmark = pytest.mark.anyio


def meta(html: str, prop: str) -> str:
    match = re.search(rf'<meta (?:property|name)="{re.escape(prop)}" content="([^"]*)"', html)
    assert match, f"no {prop} in page"
    return match.group(1)


async def test_upload_page_has_no_inline_script(client: httpx.AsyncClient) -> None:
    page = await client.get("/")
    assert page.status_code == 200
    assert 'type="module"' in page.text
    assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page.text) is None
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    # local storage: uploads go to this app, nowhere else
    assert "connect-src 'self';" in csp


async def test_share_page_unfurls(client: httpx.AsyncClient) -> None:
    created = (
        await client.post(
            "/api/v1/images?title=Alps%20%3Cb%3E", content=imagegen.jpeg_bytes(1280, 960)
        )
    ).json()
    page = await client.get(f"/{created['id']}")
    assert page.status_code == 200
    html = page.text
    assert "Alps &lt;b&gt;" in html  # escaped
    assert meta(html, "og:image") == created["links"]["large"]
    assert meta(html, "og:image:width") == "640"
    assert meta(html, "og:image:height") == "480"
    assert meta(html, "twitter:card") == "summary_large_image"
    oembed = re.search(
        r'<link rel="alternate" type="application/json\+oembed" href="([^"]+)"', html
    )
    assert oembed
    found = await client.get(oembed.group(1).replace("&amp;", "&"))
    assert found.status_code == 200
    body = found.json()
    assert body["type"] == "photo"
    assert body["url"] == created["links"]["large"]
    assert (body["width"], body["height"]) == (640, 480)


def image_tag(html: str) -> str:
    match = re.search(r'<img id="image"[^>]*>', html)
    assert match, "no image on the page"
    return match.group(0)


def attribute(tag: str, name: str) -> str | None:
    match = re.search(rf'\s{name}="([^"]*)"', tag)
    return None if match is None else match.group(1)


async def test_share_page_shows_the_placeholder_while_loading(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    created = (await client.post("/api/v1/images", content=imagegen.jpeg_bytes(1280, 960))).json()
    before = await client.get(f"/{created['id']}")
    tag = image_tag(before.text)
    assert attribute(tag, "data-colour") is None  # nothing yet: the image box as before
    assert attribute(tag, "data-placeholder") is None
    assert (attribute(tag, "width"), attribute(tag, "height")) == ("1280", "960")

    container = container_of(app)
    image = await container.meta.get_image(created["id"])
    assert image is not None
    placeholder = describe(imagegen.photo(160, 120))
    await container.meta.set_blob_placeholder(image.blob_hash, placeholder)

    page = await client.get(f"/{created['id']}")
    tag = image_tag(page.text)
    assert attribute(tag, "data-colour") == placeholder.colour
    data_url = attribute(tag, "data-placeholder")
    assert data_url is not None
    assert data_url.startswith("data:image/png;base64,")
    png = Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1])))
    assert png.size == (32, 24)  # the image's aspect ratio
    assert re.search(r'<script type="module" src="[^"]*/placeholder\.js">', page.text)
    assert (await client.get("/static/placeholder.js")).status_code == 200
    # set from a module through CSSOM: no inline script or style, and a CSP that says so
    assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page.text) is None
    assert re.search(r"\sstyle=", page.text) is None
    csp = dict(
        directive.strip().split(" ", 1)
        for directive in page.headers["content-security-policy"].split(";")
    )
    assert "data:" in csp["img-src"].split()
    assert csp["script-src"] == "'self'"
    assert csp["style-src"] == "'self'"
    assert "unsafe-inline" not in page.headers["content-security-policy"]


async def test_share_page_survives_a_malformed_placeholder(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    created = (await client.post("/api/v1/images", content=imagegen.jpeg_bytes(320, 240))).json()
    container = container_of(app)
    image = await container.meta.get_image(created["id"])
    assert image is not None
    broken = Placeholder(blurhash="not a blurhash!", colour="#123456")
    await container.meta.set_blob_placeholder(image.blob_hash, broken)
    page = await client.get(f"/{created['id']}")
    assert page.status_code == 200
    tag = image_tag(page.text)
    assert attribute(tag, "data-colour") == "#123456"
    assert attribute(tag, "data-placeholder") is None


async def test_oembed_accepts_media_urls_and_maxwidth(client: httpx.AsyncClient) -> None:
    created = (await client.post("/api/v1/images", content=imagegen.jpeg_bytes(1280, 960))).json()
    found = await client.get("/oembed", params={"url": created["links"]["full"], "maxwidth": 320})
    assert (found.json()["width"], found.json()["height"]) == (320, 240)
    missing = await client.get("/oembed", params={"url": "http://testserver/zzzzzzz"})
    assert missing.status_code == 404


async def test_errors_are_html_for_browsers_and_json_for_the_api(client: httpx.AsyncClient) -> None:
    html = await client.get("/zzzzzzz", headers={"accept": "text/html"})
    assert html.status_code == 404
    assert html.headers["content-type"].startswith("text/html")
    api = await client.get("/api/v1/images/zzzzzzz")
    assert api.status_code == 404
    assert api.json() == {
        "error": {"code": "image-not-found", "message": api.json()["error"]["message"]}
    }
    nowhere = await client.get("/api/v1/nothing-here")
    assert nowhere.json()["error"]["code"] == "not-found"


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {
        "database": "ok",
        "storage": "ok",
        "queue": "ok",
        "cache": "ok",
    }


async def test_readiness_names_the_backend_that_is_down(
    client: httpx.AsyncClient, app: FastAPI, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_bytes(b"")
    container_of(app).store = LocalBlobStore(blocker / "blobs")
    ready = await client.get("/readyz")
    assert ready.status_code == 503
    assert ready.headers["retry-after"] == "5"
    assert ready.json()["down"] == ["storage"]
    assert ready.json()["checks"]["database"] == "ok"


async def test_openapi_documents_the_upload(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    upload = schema["paths"]["/api/v1/images"]["post"]
    assert "multipart/form-data" in upload["requestBody"]["content"]
    assert "415" in upload["responses"]


async def test_share_page_plays_animations_as_video(client: httpx.AsyncClient) -> None:
    frames = [Image.new("RGB", (40, 30), (i * 60, 0, 0)) for i in range(3)]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=50, loop=0)
    created = (await client.post("/api/v1/images", content=out.getvalue())).json()
    still = (await client.post("/api/v1/images", content=imagegen.jpeg_bytes())).json()

    page = (await client.get(f"/{created['id']}")).text
    still_page = (await client.get(f"/{still['id']}")).text

    mp4 = created["links"]["mp4"]
    assert f'<source src="{mp4}" type="video/mp4">' in page
    assert "autoplay loop muted playsinline" in page
    assert f'<img src="{created["links"]["full"]}"' in page  # the GIF, as the fallback
    assert f'<meta property="og:video" content="{mp4}">' in page
    assert "<video" not in still_page
    assert "og:video" not in still_page


async def test_readiness_names_redis_when_it_is_down(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    from pixstash.cache.redis import RedisSingleFlight

    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    container_of(app).locks = RedisSingleFlight.from_url(
        f"redis://127.0.0.1:{port}/0?socket_connect_timeout=0.5"
    )

    ready = await client.get("/readyz")

    assert ready.status_code == 503
    assert ready.json()["down"] == ["cache"]
    await container_of(app).locks.close()
