"""Upload ingest: pixstash against the floor (a bare body-to-temp-file app on granian).

Each server is started, loaded and stopped before the next one, so an idle (or still
processing) server never takes CPU from the one being measured.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time

from bench.measure import BenchConfig, Probe, Row, captured, measure
from bench.servers import Running, start_floor, start_pixstash
from bench.wrk import UPLOAD_SCRIPT

UPLOAD_PATH = "/api/v1/images"
FLOOR_LABEL = "floor: bare ASGI body -> temp file (granian)"
WORKERS_0_LABEL = "pixstash, --workers 0 (ingest alone)"
_READY = "SELECT count(*) FROM blobs WHERE status = 'ready'"


def upload_rows(cfg: BenchConfig) -> list[Row]:
    floor = Row(FLOOR_LABEL)
    with captured(floor), start_floor("floor", cfg.work / "floor", cfg.logs) as target:
        _load(cfg, target, floor)
    rows = [floor]
    for label, workers, name in (
        (WORKERS_0_LABEL, 0, "pixstash-upload-w0"),
        ("pixstash, default job workers (processing competes)", None, "pixstash-upload-wdef"),
    ):
        row = Row(label)
        with (
            captured(row),
            start_pixstash(name, cfg.work / name, cfg.logs, job_workers=workers) as target,
        ):
            _load(cfg, target, row)
            _check_rows(target, row)
            if workers is None:
                _drain_rate(target, row, cfg.drain_seconds)
        rows.append(row)
    return rows


def _load(cfg: BenchConfig, target: Running, row: Row) -> None:
    probe = Probe(
        target,
        target.base_url + UPLOAD_PATH,
        row,
        UPLOAD_SCRIPT,
        lambda phase: (str(cfg.jpeg), f"{cfg.nonce}-{phase}"),
    )
    measure(
        probe,
        connections=cfg.upload_connections,
        seconds=cfg.upload_seconds,
        warmup=cfg.upload_warmup_seconds,
    )


def _count(target: Running, sql: str) -> int:
    uri = f"file:{target.db_path}?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=10)) as db:
        found: int = db.execute(sql).fetchone()[0]
        return found


def _check_rows(target: Running, row: Row) -> None:
    """Count what the server really stored (warm-up included), right after the run."""
    images = _count(target, "SELECT count(*) FROM images")
    blobs = _count(target, "SELECT count(*) FROM blobs")
    ready = _count(target, _READY)
    answered = sum(r.requests - r.non_2xx for r in (row.warmup, *row.runs) if r is not None)
    # wrk drops the answers still in flight when it stops: the DB may hold a few more
    row.notes.append(
        f"{answered} 2xx seen by wrk (warm-up included); DB: {images} images, "
        f"{blobs} blobs, {ready} processed by then"
    )
    if images < answered:
        row.error = f"only {images} images stored for {answered} 2xx answers"
    if images != blobs:
        row.notes.append("images != blobs: some uploads were deduplicated")


def _drain_rate(target: Running, row: Row, seconds: float) -> None:
    """How fast the job workers process the backlog once the uploads stop."""
    before = _count(target, _READY)
    time.sleep(seconds)
    done = _count(target, _READY) - before
    row.notes.append(f"then, without load, {done / seconds:.1f} blobs/s processed")
