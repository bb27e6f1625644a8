"""The markdown report: machine, one table per benchmark, ratios and the targets."""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
from importlib import metadata

from bench.ingest import WORKERS_0_LABEL
from bench.measure import BenchConfig, Row
from bench.thumbs import DEFAULT_LABEL

INGEST_TARGET = 0.50  # pixstash uploads/s vs the floor (--workers 0)
THUMB_TARGET = 0.25  # pixstash cached thumbnail req/s vs nginx (default server)


def machine_info() -> dict[str, str]:
    model = "unknown"
    try:
        for line in open("/proc/cpuinfo").read().splitlines():  # noqa: SIM115
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": str(os.cpu_count()),
        "cpu model": model,
        "load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "python": platform.python_version(),
        "versions": ", ".join(
            f"{name} {_version(name)}" for name in ("granian", "uvicorn", "starlette", "fastapi")
        )
        + f", {_tool_version(['nginx', '-v'])}, {_tool_version(['wrk', '-v'])}",
    }


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "absent"


def _tool_version(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=5, check=False)
    except OSError:
        return f"{argv[0]} absent"
    text = (done.stdout + done.stderr).strip().splitlines()
    first = text[0] if text else argv[0]
    return first.replace("nginx version: ", "").split(" [")[0].split(" Copyright")[0]


def _num(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def _pct(ratio: float | None) -> str:
    if ratio is None:
        return ""
    return f"{ratio:.1%}" if ratio < 0.1 else f"{ratio:.0%}"


def _ratio(row: Row, reference: Row) -> float | None:
    """The median of the alternating rounds when there were some, else one run each."""
    if row.paired_ratio is not None:
        return row.paired_ratio
    if row.result is None or reference.result is None or not reference.result.rps:
        return None
    return row.result.rps / reference.result.rps


def _table(rows: list[Row], unit: str, cpu_unit: str, ref_name: str) -> list[str]:
    reference = rows[0]
    scale = 1000.0 if cpu_unit == "µs" else 1.0
    lines = [
        f"| server | {unit}/s | p50 ms | p99 ms | non-2xx | socket errors "
        f"| server CPU {cpu_unit}/req | % of {ref_name} | notes |",
        "|---|--:|--:|--:|--:|--:|--:|--:|---|",
    ]
    for row in rows:
        notes = list(row.notes)
        if len(row.runs) > 1:
            p99s = ", ".join(f"{run.p99_ms:.2f}" for run in row.runs)
            notes.append(f"median of {len(row.runs)} alternating runs (p99 each: {p99s} ms)")
        if row.paired_ratios:
            notes.append("rounds: " + ", ".join(_pct(r) for r in row.paired_ratios))
        notes += [f"ERROR: {line}" for line in (row.error or "").splitlines()[:1]]
        text = "; ".join(notes).replace("|", "/")
        r = row.result
        if r is None:
            lines.append(f"| {row.label} | failed | | | | | | | {text} |")
            continue
        cpu = row.cpu_per_request_ms
        lines.append(
            f"| {row.label} | {_num(r.rps)} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | {r.non_2xx} "
            f"| {r.socket_errors} | {'' if cpu is None else _num(cpu * scale)} "
            f"| {_pct(_ratio(row, reference))} | {text} |"
        )
    return lines


def _verdict(label: str, row: Row | None, reference: Row, target: float) -> str:
    ratio = None if row is None else _ratio(row, reference)
    if row is None or ratio is None:
        return f"- {label}: not measured (target >= {target:.0%})"
    mark = "met" if ratio >= target else "NOT met"
    spread = ""
    if len(row.paired_ratios) > 1:
        low, high = min(row.paired_ratios), max(row.paired_ratios)
        spread = f", rounds {_pct(low)}-{_pct(high)}"
    return f"- {label}: {_pct(ratio)}{spread} (target >= {target:.0%}: {mark})"


def render(
    cfg: BenchConfig,
    info: dict[str, str],
    uploads: list[Row],
    gets: list[Row],
    pipeline: list[str] | None = None,
) -> str:
    out = ["# pixstash benchmark results", ""]
    out += [f"- {key}: {value}" for key, value in info.items()]
    out.append("")
    if uploads:
        out += [
            f"## Upload ingest: ~{cfg.jpeg.stat().st_size // 1024} KB JPEG, raw body, "
            f"{cfg.upload_connections} connections, {cfg.upload_seconds:g} s "
            "(each body unique)",
            "",
            *_table(uploads, "uploads", "ms", "floor"),
            "",
        ]
    if gets:
        out += [
            f"## Cached thumbnail GET: {cfg.get_connections} connections, "
            f"{cfg.get_seconds:g} s per run (pixstash with --workers 0)",
            "",
            *_table(gets, "req", "µs", "nginx"),
            "",
        ]
    if pipeline:
        out += [*pipeline, ""]
    if not uploads and not gets:
        return "\n".join(out)
    out += [
        "wrk -t1 --latency after a warm-up run (not counted); server CPU = user + system time",
        "of all the server's processes during the measured runs, per request. nginx and the",
        f"default pixstash are measured in {cfg.get_rounds} alternating rounds; their ratio is",
        "the median of the rounds' ratios. Compare rows of one run only: the load tool shares",
        "the cores, absolute numbers vary from run to run.",
        "",
        "## Targets",
    ]
    if uploads:
        out.append(
            _verdict(
                "ingest (--workers 0) vs floor",
                _pick(uploads, WORKERS_0_LABEL),
                uploads[0],
                INGEST_TARGET,
            )
        )
    if gets:
        out.append(
            _verdict(
                "cached thumbnail (granian) vs nginx",
                _pick(gets, DEFAULT_LABEL),
                gets[0],
                THUMB_TARGET,
            )
        )
    return "\n".join(out) + "\n"


def _pick(rows: list[Row], label: str) -> Row | None:
    return next((row for row in rows if row.label == label), None)
