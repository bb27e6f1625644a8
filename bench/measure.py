"""Rows of the report and the ways to fill them: one server alone, or two side by side."""

from __future__ import annotations

import contextlib
import sqlite3
import statistics
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.procs import ServiceFailed
from bench.servers import Running
from bench.wrk import WrkFailed, WrkResult, run_wrk


@dataclass
class BenchConfig:
    work: Path  # private temp dir of this run
    logs: Path  # kept after the run (bench/out/logs)
    jpeg: Path  # the upload sample
    nonce: str
    upload_seconds: float = 10.0
    upload_connections: int = 16
    upload_warmup_seconds: float = 2.0
    drain_seconds: float = 5.0
    get_seconds: float = 5.0
    get_connections: int = 32
    get_warmup_seconds: float = 1.0
    get_rounds: int = 3  # alternating rounds of the app against its reference


@dataclass
class Row:
    label: str
    runs: list[WrkResult] = field(default_factory=list)
    warmup: WrkResult | None = None
    cpu_s: float = 0.0  # server CPU time (all its processes) during the measured runs
    paired_ratios: list[float] = field(default_factory=list)  # round by round, vs reference
    notes: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def result(self) -> WrkResult | None:
        """The median run by request rate."""
        if not self.runs:
            return None
        return sorted(self.runs, key=lambda run: run.rps)[len(self.runs) // 2]

    @property
    def paired_ratio(self) -> float | None:
        return statistics.median(self.paired_ratios) if self.paired_ratios else None

    @property
    def cpu_per_request_ms(self) -> float | None:
        requests = sum(run.requests for run in self.runs)
        return self.cpu_s * 1000 / requests if requests else None


@contextlib.contextmanager
def captured(row: Row) -> Iterator[None]:
    """A server or wrk failure becomes the row's error; the run goes on with the next row."""
    try:
        yield
    except (ServiceFailed, WrkFailed, httpx.HTTPError, sqlite3.Error, OSError, ValueError) as exc:
        row.error = f"{type(exc).__name__}: {exc}"


def _no_args(_phase: str) -> tuple[str, ...]:
    return ()


@dataclass(frozen=True)
class Probe:
    """What to load: a running server, the URL, the wrk script and its arguments."""

    target: Running
    url: str
    row: Row
    script: Path
    script_args: Callable[[str], tuple[str, ...]] = _no_args  # by phase: "w" or "m"

    def warm_up(self, connections: int, seconds: float) -> None:
        if seconds > 0:
            self.row.warmup = self._wrk(connections, seconds, "w")

    def run(self, connections: int, seconds: float) -> WrkResult:
        before = self.target.service.cpu_seconds()
        result = self._wrk(connections, seconds, "m")
        self.row.cpu_s += self.target.service.cpu_seconds() - before
        self.target.service.check_alive()
        self.row.runs.append(result)
        return result

    def _wrk(self, connections: int, seconds: float, phase: str) -> WrkResult:
        result = run_wrk(
            self.url,
            script=self.script,
            connections=connections,
            duration_s=seconds,
            script_args=self.script_args(phase),
        )
        with self.target.service.log_path.with_suffix(".wrk.txt").open("a") as log:
            log.write(f"--- {'warm-up' if phase == 'w' else 'measured'}\n{result.raw}\n")
        return result


def measure(probe: Probe, *, connections: int, seconds: float, warmup: float) -> None:
    probe.warm_up(connections, warmup)
    probe.run(connections, seconds)


def measure_pair(
    reference: Probe, app: Probe, *, connections: int, seconds: float, warmup: float, rounds: int
) -> None:
    """Alternate runs (ref, app, app, ref, ...) while both servers are up and idle in turn,
    so a drift of the machine's background load hits both alike. Each round gives a ratio;
    the report uses their median."""
    for probe in (reference, app):
        with captured(probe.row):
            probe.warm_up(connections, warmup)
    for index in range(rounds):
        if reference.row.error or app.row.error:
            return
        order = (reference, app) if index % 2 == 0 else (app, reference)
        results: dict[int, WrkResult] = {}
        for probe in order:
            with captured(probe.row):
                results[id(probe)] = probe.run(connections, seconds)
        ref_result, app_result = results.get(id(reference)), results.get(id(app))
        if ref_result and app_result and ref_result.rps:
            app.row.paired_ratios.append(app_result.rps / ref_result.rps)
