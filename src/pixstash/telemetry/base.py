"""The Metrics port: what services and job workers record, without knowing Prometheus.

The composition root hands them ``telemetry.prometheus.PrometheusMetrics``; tests and
code built without one get ``NULL_METRICS`` or an ``InMemoryMetrics``. The web layer
records HTTP-level metrics (uploads, bytes, cache hits) on the Prometheus objects itself.
"""

from __future__ import annotations

from collections import Counter
from typing import Protocol

# JobRunner outcomes (the ``outcome`` label of pixstash_jobs_finished_total)
COMPLETED = "completed"
FAILED = "failed"  # will be retried
DEAD_LETTERED = "dead_lettered"  # failed its last attempt
POSTPONED = "postponed"  # a backend was down; no attempt used
INTERRUPTED = "interrupted"  # the worker stopped mid-job; its lease runs out


class Metrics(Protocol):
    def scan_verdict(self, verdict: str) -> None:
        """clean | infected | unavailable (refused) | failed_open (accepted unscanned)."""
        ...

    def variant_generated(self, variant: str) -> None:
        """A variant made on demand (on first request), not at upload."""
        ...

    def job_started(self, kind: str) -> None: ...

    def job_finished(self, kind: str, outcome: str, seconds: float) -> None: ...

    def backend_error(self, backend: str) -> None:
        """database | storage | queue | cache | scanner (see ``backend_label``)."""
        ...


def backend_label(exc: BaseException) -> str:
    """``StorageUnavailable`` -> ``storage``; the error tree names each backend's error
    ``<Backend>Unavailable``, and the bare ``BackendUnavailable`` becomes ``unknown``."""
    name = type(exc).__name__.removesuffix("Unavailable").lower()
    return "unknown" if name in ("", "backend") else name


class NullMetrics:
    def scan_verdict(self, verdict: str) -> None:
        return None

    def variant_generated(self, variant: str) -> None:
        return None

    def job_started(self, kind: str) -> None:
        return None

    def job_finished(self, kind: str, outcome: str, seconds: float) -> None:
        return None

    def backend_error(self, backend: str) -> None:
        return None


NULL_METRICS: Metrics = NullMetrics()


class InMemoryMetrics:
    """Counts events as ``(event, label)`` pairs; for tests."""

    def __init__(self) -> None:
        self.events: Counter[tuple[str, str]] = Counter()
        self.running = 0

    def scan_verdict(self, verdict: str) -> None:
        self.events["scan", verdict] += 1

    def variant_generated(self, variant: str) -> None:
        self.events["variant", variant] += 1

    def job_started(self, kind: str) -> None:
        self.running += 1

    def job_finished(self, kind: str, outcome: str, seconds: float) -> None:
        self.running -= 1
        self.events["job", outcome] += 1

    def backend_error(self, backend: str) -> None:
        self.events["backend", backend] += 1
