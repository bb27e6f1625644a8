"""Cached thumbnail GET: pixstash (granian, uvicorn; cache on and off) against nginx."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx

from bench.ingest import UPLOAD_PATH
from bench.measure import BenchConfig, Probe, Row, captured, measure, measure_pair
from bench.servers import Running, start_nginx, start_pixstash
from bench.wrk import GET_SCRIPT

NGINX_LABEL = "nginx static file (1 worker)"
DEFAULT_LABEL = "pixstash granian, in-memory cache (default)"

# label, ASGI server, service name, extra environment
GET_CONFIGS: tuple[tuple[str, str, str, dict[str, str]], ...] = (
    (DEFAULT_LABEL, "granian", "pixstash-get-granian", {}),
    ("pixstash uvicorn, in-memory cache", "uvicorn", "pixstash-get-uvicorn", {}),
    (
        "pixstash granian, MEDIA_CACHE_BYTES=0",
        "granian",
        "pixstash-get-granian-nocache",
        {"PIXSTASH_MEDIA_CACHE_BYTES": "0"},
    ),
    (
        "pixstash granian, MEDIA_CACHE_ITEM_BYTES=0",
        "granian",
        "pixstash-get-granian-file",
        {"PIXSTASH_MEDIA_CACHE_ITEM_BYTES": "0"},
    ),
    (
        "pixstash uvicorn, MEDIA_CACHE_ITEM_BYTES=0",
        "uvicorn",
        "pixstash-get-uvicorn-file",
        {"PIXSTASH_MEDIA_CACHE_ITEM_BYTES": "0"},
    ),
)


def get_rows(cfg: BenchConfig) -> list[Row]:
    """nginx serves the bytes the first pixstash made, in alternating rounds with it (the
    pair the target is about); the other configurations are measured once each."""
    app_rows: list[Row] = []
    nginx: Row | None = None
    reference = b""
    for label, server, name, env in GET_CONFIGS:
        row = Row(label)
        with (
            captured(row),
            start_pixstash(
                name, cfg.work / name, cfg.logs, job_workers=0, server=server, env=env
            ) as target,
        ):
            path, body = _warm_thumbnail(cfg, target, row)
            probe = Probe(target, target.base_url + path, row, GET_SCRIPT)
            if nginx is None:
                nginx, reference = Row(NGINX_LABEL, notes=[f"same {len(body)} B thumbnail"]), body
                _against_nginx(cfg, nginx, probe, path.lstrip("/"), body)
            else:
                if body != reference:
                    row.notes.append(f"thumbnail differs from the first one ({len(body)} B)")
                measure(
                    probe,
                    connections=cfg.get_connections,
                    seconds=cfg.get_seconds,
                    warmup=cfg.get_warmup_seconds,
                )
        app_rows.append(row)
    if nginx is None:
        nginx = Row(NGINX_LABEL, error="no thumbnail to serve: every pixstash server failed")
    return [nginx, *app_rows]


def _against_nginx(cfg: BenchConfig, nginx: Row, app: Probe, name: str, body: bytes) -> None:
    with captured(nginx), start_nginx("nginx", cfg.work / "nginx", cfg.logs, {name: body}) as ref:
        measure_pair(
            Probe(ref, f"{ref.base_url}/{name}", nginx, GET_SCRIPT),
            app,
            connections=cfg.get_connections,
            seconds=cfg.get_seconds,
            warmup=cfg.get_warmup_seconds,
            rounds=cfg.get_rounds,
        )
    if not app.row.runs and app.row.error is None:  # nginx did not start: pixstash alone
        measure(
            app,
            connections=cfg.get_connections,
            seconds=cfg.get_seconds,
            warmup=cfg.get_warmup_seconds,
        )


def _warm_thumbnail(cfg: BenchConfig, target: Running, row: Row) -> tuple[str, bytes]:
    """Upload the sample, fetch its thumbnail twice (render, then cache): path and bytes."""
    sample = cfg.jpeg.read_bytes()
    with httpx.Client(base_url=target.base_url, timeout=60) as client:
        created = client.post(UPLOAD_PATH, content=sample, headers={"content-type": "image/jpeg"})
        if created.status_code != 201:
            raise ValueError(f"upload answered {created.status_code}: {created.text[:300]}")
        path = urlsplit(created.json()["links"]["thumb"]).path
        first = client.get(path)
        if first.status_code != 200:
            raise ValueError(f"GET {path} answered {first.status_code}: {first.text[:300]}")
        second = client.get(path)
    row.notes.append(f"{_served_as(second)}, {len(second.content)} B")
    return path, second.content


def _served_as(response: httpx.Response) -> str:
    """Starlette's FileResponse adds Last-Modified; a bytes Response does not."""
    return "file (FileResponse)" if "last-modified" in response.headers else "bytes"
