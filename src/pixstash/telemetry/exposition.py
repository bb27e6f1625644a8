"""``/metrics`` text for one process or, in multiprocess mode, summed over every process
that shares ``PROMETHEUS_MULTIPROC_DIR``.

Multiprocess mode is prometheus-client's: each process writes its values to memory-mapped
files in the directory, which must be set before ``prometheus_client`` is imported and be
empty when the process group starts. ``telemetry.directory`` sees to both for
``pixstash serve`` and ``pixstash worker``. Counters of dead processes stay in the sums (they
are totals); gauges of dead processes (jobs running) are dropped at each scrape.
"""

from __future__ import annotations

import glob
import logging
import os
import re
from collections.abc import Iterable, Mapping

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector

from pixstash.telemetry.directory import MULTIPROC_ENV, process_alive

CONTENT_TYPE = CONTENT_TYPE_LATEST
_LIVE_FILE = re.compile(r"gauge_live\w+?_(\d+)\.db")
log = logging.getLogger(__name__)


def multiprocess_directory() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


class _LiveProcessesCollector:
    """Sums the directory's files after dropping the live gauges of dead processes (a
    worker killed mid-job would otherwise count as running it forever)."""

    def __init__(self, path: str) -> None:
        self.directory = path
        self.files = MultiProcessCollector(None, path)  # type: ignore[no-untyped-call]

    def collect(self) -> Iterable[Metric]:
        for name in glob.glob(os.path.join(self.directory, "gauge_live*.db")):
            match = _LIVE_FILE.fullmatch(os.path.basename(name))
            if match and not process_alive(int(match.group(1))):
                mark_process_dead(int(match.group(1)), self.directory)  # type: ignore[no-untyped-call]
        collected: Iterable[Metric] = self.files.collect()  # type: ignore[no-untyped-call]
        return collected


class _Delegate:
    def __init__(self, collectors: Iterable[Collector]) -> None:
        self.collectors = list(collectors)

    def collect(self) -> Iterable[Metric]:
        for collector in self.collectors:
            yield from collector.collect()


class _Gauges:
    def __init__(self, families: list[GaugeMetricFamily]) -> None:
        self.families = families

    def collect(self) -> Iterable[Metric]:
        return iter(self.families)


def registry() -> CollectorRegistry:
    """What to expose now: every process's values in multiprocess mode, else this one's."""
    directory = multiprocess_directory()
    exposed = CollectorRegistry(auto_describe=False)
    if directory is not None:
        exposed.register(_LiveProcessesCollector(directory))
    else:
        exposed.register(_Delegate([REGISTRY]))
    return exposed


def queue_gauges(stats: Mapping[str, int] | None) -> list[GaugeMetricFamily]:
    """Gauges of the job queue's ``stats()`` (read at scrape time, cached briefly)."""
    if stats is None:
        return []
    jobs = GaugeMetricFamily(
        "pixstash_queue_jobs",
        "Jobs in the queue by state (pending: not finished, running included; dead: "
        "dead-lettered; with amqp:// also outbox, queued, retrying, dead_letters).",
        labels=["state"],
    )
    for state, count in sorted(stats.items()):
        if state != "oldest_pending_seconds":
            jobs.add_metric([state], count)
    oldest = GaugeMetricFamily(
        "pixstash_queue_oldest_pending_age_seconds",
        "Age of the oldest job not finished yet (0 when none is pending).",
        value=stats.get("oldest_pending_seconds", 0),
    )
    return [jobs, oldest]


def render(extra: list[GaugeMetricFamily] | None = None) -> bytes:
    exposed = registry()
    if extra:
        exposed.register(_Gauges(extra))
    return generate_latest(exposed)


def serve_http(host: str, port: int) -> None:
    """Expose this process group's metrics on ``host:port`` (``pixstash worker``), from
    a daemon thread."""
    from prometheus_client import start_http_server

    start_http_server(port, host, registry=registry())
    log.info("metrics on http://%s:%d/metrics", host, port)
