"""The metric objects (prometheus-client), one per thing measured, all ``pixstash_*``.

Created at import, as prometheus-client expects: with ``PROMETHEUS_MULTIPROC_DIR`` set
before the import (``pixstash serve`` and ``pixstash worker`` do, see ``exposition``),
each process writes its values to files there and any process's ``/metrics`` sums them.

The cached-media fast path counts into ``HOT_PATH`` (two integer additions, no lock, no
file write); ``flush_hot_path`` moves those counts into the Prometheus counters, at each
scrape and every second (``PixstashApp``), so a hit costs nanoseconds, not microseconds.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from pixstash.telemetry.base import Metrics

UPLOADS = Counter(
    "pixstash_uploads",
    "Upload requests answered (POST /api/v1/images, direct-upload completions, Imgur "
    "POST /3/image), by HTTP "
    "status and result code (created, or the error code).",
    ["status", "code"],
)
UPLOAD_BYTES = Counter("pixstash_upload_received_bytes", "Bytes of upload request bodies received.")
UPLOAD_SECONDS = Histogram(
    "pixstash_upload_duration_seconds",
    "Time to answer an upload request, from its first byte to the answer.",
    buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
MEDIA_BYTES = Counter(
    "pixstash_media_sent_bytes",
    "Bytes of media bodies answered (sent by the app, or by nginx after X-Accel-Redirect).",
)
MEDIA_CACHE = Counter(
    "pixstash_media_cache_requests",
    "Media requests answered from the in-memory cache (hit) or not (miss).",
    ["result"],
)
VARIANTS_GENERATED = Counter(
    "pixstash_variants_generated",
    "Variants made on demand, at their first request.",
    ["variant"],
)
SCAN_VERDICTS = Counter(
    "pixstash_scan_verdicts",
    "Malware scans of uploads: clean, infected, unavailable (refused with 503) or "
    "failed_open (accepted unscanned).",
    ["verdict"],
)
RATE_LIMIT_REFUSALS = Counter(
    "pixstash_rate_limit_refusals", "Requests refused with 429, by rate-limit rule.", ["rule"]
)
BACKEND_ERRORS = Counter(
    "pixstash_backend_errors",
    "Backend outages met: 503 answers and postponed jobs, by backend "
    "(database, storage, queue, cache, scanner).",
    ["backend"],
)
JOB_SECONDS = Histogram(
    "pixstash_job_duration_seconds",
    "Time to run a background job (processing an upload: process-blob), by kind.",
    ["kind"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0),
)
JOBS_FINISHED = Counter(
    "pixstash_jobs_finished",
    "Job runs by kind and outcome: completed, failed (will retry), dead_lettered "
    "(failed its last attempt), postponed (a backend was down), interrupted (shutdown).",
    ["kind", "outcome"],
)
JOBS_RUNNING = Gauge(
    "pixstash_jobs_running",
    "Jobs being run now by live processes.",
    multiprocess_mode="livesum",
)

_HIT = MEDIA_CACHE.labels("hit")
MEDIA_CACHE.labels("miss")  # exported at 0 before the first miss


class HotPathCounts:
    __slots__ = ("bytes", "hits")

    def __init__(self) -> None:
        self.hits = 0
        self.bytes = 0


HOT_PATH = HotPathCounts()


def flush_hot_path() -> None:
    hits, sent = HOT_PATH.hits, HOT_PATH.bytes
    HOT_PATH.hits = HOT_PATH.bytes = 0
    if hits:
        _HIT.inc(hits)
    if sent:
        MEDIA_BYTES.inc(sent)


class PrometheusMetrics(Metrics):
    """The Metrics port on the objects above."""

    def scan_verdict(self, verdict: str) -> None:
        SCAN_VERDICTS.labels(verdict).inc()

    def variant_generated(self, variant: str) -> None:
        VARIANTS_GENERATED.labels(variant).inc()

    def job_started(self, kind: str) -> None:
        JOBS_RUNNING.inc()

    def job_finished(self, kind: str, outcome: str, seconds: float) -> None:
        JOBS_RUNNING.dec()
        JOBS_FINISHED.labels(kind, outcome).inc()
        JOB_SECONDS.labels(kind).observe(seconds)

    def backend_error(self, backend: str) -> None:
        BACKEND_ERRORS.labels(backend).inc()


def _export_zeros() -> None:
    """Series that alerts and the dashboard read exist at 0 before their first event:
    ``rate()`` of a missing series is no data, not 0."""
    UPLOADS.labels("201", "created")
    for verdict in ("clean", "infected", "unavailable", "failed_open"):
        SCAN_VERDICTS.labels(verdict)
    for backend in ("database", "storage", "queue", "cache", "scanner"):
        BACKEND_ERRORS.labels(backend)
    for outcome in ("completed", "failed", "dead_lettered", "postponed"):
        JOBS_FINISHED.labels("process-blob", outcome)
    JOB_SECONDS.labels("process-blob")
    for rule in ("uploads-per-ip", "uploads-per-user", "requests-per-token"):
        RATE_LIMIT_REFUSALS.labels(rule)


_export_zeros()
