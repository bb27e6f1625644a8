"""Image pipeline: pixstash's eager set (full, l, m, t) per source, beside a naive Pillow
pipeline and thumbor 7.8, on the deterministic corpus of ``bench.corpus``.

- pixstash and naive: one fresh process per source and job (``bench.pipeline_job``),
  ``runs`` runs each; CPU = user + system time of the process during the job (all its
  threads), wall alongside; peak RSS = the process's ``VmHWM``.
- thumbor: over HTTP (``bench.thumbor_bench``).
- bytes and SSIM (``bench.ssim``) of every variant against a float Lanczos reference.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench import ssim as quality
from bench.corpus import SEED, VERSION, CorpusFile, ensure_corpus
from bench.servers import REPO
from bench.thumbor_bench import (
    DEFAULT_VENV,
    ThumborUnavailable,
    ThumborVariant,
    ensure_thumbor,
    measure_thumbor,
)

VARIANTS = ("full", "large", "medium", "thumb")
SHORT = {"full": "full", "large": "l 640", "medium": "m 320", "thumb": "t 160"}
JOB_TIMEOUT_SECONDS = 1200

THROUGHPUT_TARGET = 3.0  # naive CPU / pixstash CPU over the corpus
RSS_TARGET_MB = 300.0  # peak RSS on the 50 MP JPEGs
BYTES_TARGET = 0.20  # medium and large: at least 20% fewer bytes than naive ...
SSIM_DECIMALS = 3  # ... at an SSIM equal (to 3 decimals) or better
RSS_SOURCES = ("50mp", "50mp-prog")
THUMBOR_TARGET_SOURCE = "12mp"


@dataclass
class Variant:
    name: str
    path: Path
    bytes: int
    width: int
    height: int
    frames: int
    ssim: float | None = None
    ssim_note: str = ""


@dataclass
class Job:
    label: str
    engine: str = ""
    cpu_ms: list[float] = field(default_factory=list)
    wall_ms: list[float] = field(default_factory=list)
    baseline_rss_kb: int = 0
    peak_rss_kb: int = 0
    variants: dict[str, Variant] = field(default_factory=dict)
    error: str | None = None

    @property
    def cpu(self) -> float | None:
        return statistics.median(self.cpu_ms) if self.cpu_ms else None

    @property
    def wall(self) -> float | None:
        return statistics.median(self.wall_ms) if self.wall_ms else None


@dataclass
class SourceRun:
    file: CorpusFile
    pixstash: Job
    naive: Job
    thumbor: dict[str, ThumborVariant] = field(default_factory=dict)
    thumbor_ssim: dict[str, float] = field(default_factory=dict)


@dataclass
class AltFormat:
    """One resized variant of a photo in another output format (not part of the eager set)."""

    source: str
    variant: str
    fmt: str
    bytes: int
    ssim: float
    naive_bytes: int
    naive_ssim: float


@dataclass
class PipelineResult:
    engine: str
    runs: int
    thumbor_runs: int
    corpus_note: str
    sources: list[SourceRun]
    thumbor_versions: str = ""
    thumbor_error: str | None = None
    seconds: float = 0.0
    alt_formats: list[AltFormat] = field(default_factory=list)

    def failures(self) -> list[str]:
        return [
            f"pipeline {run.file.source.key} {job.label}: {job.error}"
            for run in self.sources
            for job in (run.pixstash, run.naive)
            if job.error
        ]


def run_pipeline(
    *,
    out: Path,
    work: Path,
    logs: Path,
    engine: str = "auto",
    runs: int = 3,
    thumbor_runs: int = 5,
    thumbor_venv: Path = DEFAULT_VENV,
    progress: Callable[[str], None] = print,
) -> PipelineResult:
    started = time.monotonic()
    progress("pipeline: corpus")
    reused = (out / f"corpus-v{VERSION}" / "manifest.json").exists()
    files = ensure_corpus(out)
    corpus_note = (
        f"corpus v{VERSION} (seed {SEED}) "
        + ("reused from" if reused else f"generated in {time.monotonic() - started:.0f} s into")
        + f" `{files[0].path.parent}`"
    )
    sources: list[SourceRun] = []
    for file in files:
        progress(f"pipeline: {file.source.key} (pixstash, naive)")
        pixstash = _run_job("pixstash", file, work, logs, engine=engine, runs=runs)
        naive = _run_job("naive", file, work, logs, engine=engine, runs=runs)
        sources.append(SourceRun(file, pixstash, naive))
    result = PipelineResult(engine, runs, thumbor_runs, corpus_note, sources)
    _thumbor(result, files, work, logs, thumbor_venv, progress)
    for run in sources:
        progress(f"pipeline: SSIM {run.file.source.key}")
        try:
            _score(run)
        except (OSError, ValueError) as exc:  # a variant Pillow cannot read, or too small
            run.pixstash.error = run.pixstash.error or f"SSIM: {type(exc).__name__}: {exc}"
    progress("pipeline: WebP and AVIF variants")
    result.alt_formats = _alt_formats(sources, work, engine)
    result.seconds = time.monotonic() - started
    (out / "pipeline.json").write_text(json.dumps(asdict(result), indent=1, default=str))
    return result


def _run_job(
    label: str, file: CorpusFile, work: Path, logs: Path, *, engine: str, runs: int
) -> Job:
    job = Job(label)
    out_dir = work / "pipeline" / file.source.key / label
    argv = [sys.executable, "-m", "bench.pipeline_job", "--job", label, "--engine", engine]
    argv += ["--source", str(file.path), "--format", file.source.format]
    argv += ["--runs", str(runs), "--out", str(out_dir)]
    try:
        done = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            cwd=REPO,
            env=_child_env(),
            timeout=JOB_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        job.error = f"{type(exc).__name__}: {exc}"
        return job
    log = logs / f"pipeline-{file.source.key}-{label}.log"
    log.write_text(done.stderr)
    if done.returncode != 0:
        tail = [line for line in done.stderr.splitlines() if line.strip()]
        job.error = f"exit {done.returncode}: {tail[-1] if tail else '(no output)'} (see {log})"
        return job
    try:
        data = json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError) as exc:
        job.error = f"unreadable job output: {exc}"
        return job
    job.engine = data["engine"]
    job.cpu_ms, job.wall_ms = data["cpu_ms"], data["wall_ms"]
    job.baseline_rss_kb, job.peak_rss_kb = data["baseline_rss_kb"], data["peak_rss_kb"]
    for item in data["outputs"]:
        job.variants[item["variant"]] = Variant(
            item["variant"],
            Path(item["path"]),
            item["bytes"],
            item["width"],
            item["height"],
            item["frames"],
        )
    return job


def _child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIXSTASH_")}
    env["PYTHONPATH"] = str(REPO)
    return env


def _thumbor(
    result: PipelineResult,
    files: list[CorpusFile],
    work: Path,
    logs: Path,
    venv: Path,
    progress: Callable[[str], None],
) -> None:
    progress(f"pipeline: thumbor ({venv})")
    try:
        binary, result.thumbor_versions = ensure_thumbor(venv, logs / "thumbor-install.log")
        measured = measure_thumbor(
            binary,
            files[0].path.parent,
            [(f.source.key, f.path.name) for f in files],
            work=work / "thumbor",
            logs=logs,
            runs=result.thumbor_runs,
            progress=progress,
        )
    except (ThumborUnavailable, OSError) as exc:
        result.thumbor_error = f"{type(exc).__name__}: {exc}"
        return
    for run in result.sources:
        run.thumbor = measured.get(run.file.source.key, {})


# --- SSIM ---------------------------------------------------------------------------------


def _score(run: SourceRun) -> None:
    """SSIM of every variant of pixstash and naive, and of thumbor's resized variants."""
    count = run.file.frames
    indices = quality.frame_indices(count)
    source = list(quality.frames_luma(run.file.path, indices))
    for name in VARIANTS:
        made = [job.variants[name] for job in (run.pixstash, run.naive) if name in job.variants]
        if not made:
            continue
        size = (made[0].width, made[0].height)
        references = [quality.resize_plane(plane, size) for plane in source]
        for variant in made:
            variant.ssim, variant.ssim_note = _compare(variant.path, references, count, indices)
        tv = run.thumbor.get(name)
        if name != "full" and tv is not None and tv.output is not None and tv.error is None:
            run.thumbor_ssim[name] = _compare(tv.output, references, count, indices)[0]
        del references


def _compare(
    path: Path, references: list[quality.F32], count: int, indices: list[int]
) -> tuple[float, str]:
    frames = quality.frame_count(path)
    note = ""
    if frames != count:
        indices, references = [0], references[:1]
        note = f"first frame only ({frames} of {count} frames)"
    scores = []
    for reference, candidate in zip(references, quality.frames_luma(path, indices), strict=True):
        height, width = reference.shape
        scores.append(quality.ssim(reference, quality.resize_plane(candidate, (width, height))))
    return statistics.fmean(scores), note


ALT_SOURCES = ("12mp", "24mp", "50mp")
ALT_FORMATS = ("webp", "avif")


def _alt_formats(sources: list[SourceRun], work: Path, engine_name: str) -> list[AltFormat]:
    """The medium and large variants of the photos as WebP and AVIF (what `/{id}l.webp`
    serves), against the naive pipeline's JPEG: bytes and SSIM, untimed."""
    from pixstash.domain.formats import OutputFormat, SourceFormat
    from pixstash.domain.variants import BY_NAME
    from pixstash.processing.engines import make_engine

    engine = make_engine(engine_name)
    rows: list[AltFormat] = []
    for run in sources:
        if run.file.source.key not in ALT_SOURCES:
            continue
        source = list(quality.frames_luma(run.file.path, [0]))
        for name in ("large", "medium"):
            naive = run.naive.variants.get(name)
            if naive is None or naive.ssim is None:
                continue
            targets = [(BY_NAME[name], OutputFormat(fmt)) for fmt in ALT_FORMATS]
            rendered = engine.render(run.file.path, SourceFormat.JPEG, targets)
            reference = [quality.resize_plane(source[0], (naive.width, naive.height))]
            for fmt, made in zip(ALT_FORMATS, rendered, strict=True):
                path = work / "pipeline" / run.file.source.key / f"alt-{name}.{fmt}"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(made.data)
                score, _ = _compare(path, reference, 1, [0])
                rows.append(
                    AltFormat(
                        run.file.source.key,
                        name,
                        fmt,
                        len(made.data),
                        score,
                        naive.bytes,
                        naive.ssim,
                    )
                )
    return rows


# --- report -------------------------------------------------------------------------------


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if value >= 10 else f"{value:.1f}"


def _mb(kb: int) -> str:
    return f"{kb / 1024:,.0f}"


def _size(n: int) -> str:
    return f"{n / 1e6:.2f} MB" if n >= 1e6 else f"{n / 1e3:.1f} kB"


def _ssim(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def render_pipeline(result: PipelineResult) -> list[str]:
    engines = {run.pixstash.engine for run in result.sources if run.pixstash.engine}
    naive = next((run.naive.engine for run in result.sources if run.naive.engine), "Pillow")
    lines = [
        f"## Image pipeline: eager set (full, l, m, t) per source, `--engine {result.engine}`",
        "",
        f"- pixstash: `make_engine({result.engine!r})` = {', '.join(sorted(engines)) or '?'}",
        f"- naive: {naive}; thumbor: "
        + (result.thumbor_versions or f"unavailable ({result.thumbor_error})"),
        f"- {result.corpus_note}; pipeline section took {result.seconds:.0f} s",
        "- corpus sha256: "
        + ", ".join(f"{run.file.source.key} {run.file.sha256[:12]}" for run in result.sources),
        "",
        f"CPU and wall ms: median of {result.runs} runs in one fresh process per source and "
        "job; peak RSS = that process's VmHWM (ru_maxrss would include the parent's: Linux "
        "keeps it across vfork + exec); after-import RSS in brackets.",
        "",
        "| source | pixels, file | pixstash CPU ms | wall ms | peak RSS MB "
        "| naive CPU ms | wall ms | peak RSS MB | naive / pixstash CPU |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for run in result.sources:
        f, p, n = run.file, run.pixstash, run.naive
        frames = f" x {f.frames} frames" if f.frames > 1 else ""
        lines.append(
            f"| {f.source.key} | {f.width}x{f.height}{frames}, {_size(f.size)} "
            f"| {_job_cells(p)} | {_job_cells(n)} | {_ratio(n.cpu, p.cpu)} |"
        )
    total_p, total_n = _total(result, "pixstash"), _total(result, "naive")
    lines.append(
        f"| **corpus** | | {_ms(total_p)} | | | {_ms(total_n)} | | | {_ratio(total_n, total_p)} |"
    )
    lines += ["", *_thumbor_table(result), "", *_bytes_table(result), "", *_alt_table(result)]
    lines += ["", *_targets(result)]
    errors = result.failures() + [
        f"thumbor {run.file.source.key} {name}: {tv.error}"
        for run in result.sources
        for name, tv in run.thumbor.items()
        if tv.error
    ]
    if errors:
        lines += ["", "Errors:", *(f"- {line}" for line in errors)]
    return lines


def _job_cells(job: Job) -> str:
    if job.error:
        return "failed | | "
    rss = f"{_mb(job.peak_rss_kb)} ({_mb(job.baseline_rss_kb)})"
    return f"{_ms(job.cpu)} | {_ms(job.wall)} | {rss}"


def _ratio(num: float | None, den: float | None) -> str:
    return "-" if num is None or not den else f"{num / den:.2f}x"


def _total(result: PipelineResult, label: str) -> float | None:
    jobs = [run.pixstash if label == "pixstash" else run.naive for run in result.sources]
    values = [job.cpu for job in jobs]
    if any(v is None for v in values):
        return None
    return sum(v for v in values if v is not None)


def _thumbor_table(result: PipelineResult) -> list[str]:
    if result.thumbor_error:
        return [f"thumbor: unavailable: {result.thumbor_error}"]
    lines = [
        f"thumbor, one request per variant (`/unsafe/<file>`, `/unsafe/fit-in/BxB/<file>`): "
        f"thumbor CPU ms per request (mean of {result.thumbor_runs}) / wall ms (median of "
        f"{result.thumbor_runs}; 3 for requests slower than 5 s), after one warm-up request "
        "each; thumbor's defaults otherwise",
        "",
        "| source | full | l 640 | m 320 | t 160 | all 4 | pixstash eager set CPU / wall |",
        "|---|--:|--:|--:|--:|--:|--:|",
    ]
    for run in result.sources:
        cells = []
        cpu_sum, wall_sum = 0.0, 0.0
        complete = True
        for name in VARIANTS:
            tv = run.thumbor.get(name)
            if tv is None or tv.error or tv.cpu_ms is None or tv.wall is None:
                cells.append("failed" if tv is not None and tv.error else "-")
                complete = False
                continue
            cells.append(f"{_ms(tv.cpu_ms)} / {_ms(tv.wall)}")
            cpu_sum += tv.cpu_ms
            wall_sum += tv.wall
        cells.append(f"{_ms(cpu_sum)} / {_ms(wall_sum)}" if complete else "-")
        cells.append(f"{_ms(run.pixstash.cpu)} / {_ms(run.pixstash.wall)}")
        lines.append(f"| {run.file.source.key} | {' | '.join(cells)} |")
    return lines


def _bytes_table(result: PipelineResult) -> list[str]:
    lines = [
        "Bytes and SSIM (luma, Gaussian 11x11 sigma 1.5, K1 0.01, K2 0.03) against a float "
        "Lanczos resize of the decoded source to the variant's size; animations: mean of "
        "frames 0, n/4, n/2, 3n/4",
        "",
        "| source | variant | size | pixstash bytes | SSIM | naive bytes | SSIM "
        "| pixstash vs naive | thumbor bytes | SSIM |",
        "|---|---|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for run in result.sources:
        for name in VARIANTS:
            p, n = run.pixstash.variants.get(name), run.naive.variants.get(name)
            tv = run.thumbor.get(name)
            size = f"{p.width}x{p.height}" if p else (f"{n.width}x{n.height}" if n else "-")
            notes = [v.ssim_note for v in (p, n) if v is not None and v.ssim_note]
            t_bytes = f"{tv.bytes:,}" if tv is not None and not tv.error else "-"
            if (
                tv is not None
                and not tv.error
                and (tv.width, tv.height) != ((p.width, p.height) if p else (0, 0))
            ):
                t_bytes += f" ({tv.width}x{tv.height})"
            lines.append(
                f"| {run.file.source.key} | {SHORT[name]} | {size}"
                f" | {f'{p.bytes:,}' if p else '-'} | {_ssim(p.ssim if p else None)}"
                f" | {f'{n.bytes:,}' if n else '-'} | {_ssim(n.ssim if n else None)}"
                f" | {_delta(p, n)}{'; ' + '; '.join(notes) if notes else ''}"
                f" | {t_bytes} | {_ssim(run.thumbor_ssim.get(name))} |"
            )
    return lines


def _alt_table(result: PipelineResult) -> list[str]:
    if not result.alt_formats:
        return []
    lines = [
        "The same medium and large variants as WebP and AVIF (`/{id}m.webp`, `/{id}l.avif`; "
        "untimed), against the naive pipeline's JPEG",
        "",
        "| source | variant | format | bytes | SSIM | naive JPEG bytes | SSIM | vs naive |",
        "|---|---|---|--:|--:|--:|--:|--:|",
    ]
    for row in result.alt_formats:
        lines.append(
            f"| {row.source} | {SHORT[row.variant]} | {row.fmt} | {row.bytes:,} "
            f"| {row.ssim:.4f} | {row.naive_bytes:,} | {row.naive_ssim:.4f} "
            f"| {row.bytes / row.naive_bytes - 1:+.0%} |"
        )
    return lines


def _delta(p: Variant | None, n: Variant | None) -> str:
    if p is None or n is None or not n.bytes:
        return "-"
    return f"{p.bytes / n.bytes - 1:+.0%}"


def _mark(ok: bool) -> str:
    return "met" if ok else "**NOT met**"


def _targets(result: PipelineResult) -> list[str]:
    lines = ["Targets (image pipeline):"]
    by_key = {run.file.source.key: run for run in result.sources}
    run = by_key.get(THUMBOR_TARGET_SOURCE)
    tv = run.thumbor.get("large") if run else None
    if run is None or run.pixstash.cpu is None or tv is None or tv.cpu_ms is None:
        why = result.thumbor_error or "not measured"
        lines.append(f"- 12 MP eager set CPU < thumbor's one 640 px resize: not measured ({why})")
    else:
        ratio = run.pixstash.cpu / tv.cpu_ms
        wall = tv.wall or 0.0
        lines.append(
            f"- 12 MP eager set (4 variants) {_ms(run.pixstash.cpu)} ms CPU vs thumbor's ONE "
            f"640 px resize {_ms(tv.cpu_ms)} ms CPU: {ratio:.2f}x (target < 1: "
            f"{_mark(ratio < 1)}); wall {_ms(run.pixstash.wall)} vs {_ms(wall)} ms"
        )
    total_p, total_n = _total(result, "pixstash"), _total(result, "naive")
    if total_p and total_n:
        ratio = total_n / total_p
        each = [
            run.naive.cpu / run.pixstash.cpu
            for run in result.sources
            if run.naive.cpu and run.pixstash.cpu
        ]
        lines.append(
            f"- throughput vs naive (naive CPU / pixstash CPU, summed over the corpus): "
            f"{ratio:.2f}x, per source {min(each):.2f}-{max(each):.2f}x "
            f"(target >= {THROUGHPUT_TARGET:g}x: {_mark(ratio >= THROUGHPUT_TARGET)})"
        )
    else:
        lines.append("- throughput vs naive: not measured (a job failed)")
    peaks = [(key, by_key[key].pixstash) for key in RSS_SOURCES if key in by_key]
    if peaks and all(job.peak_rss_kb for _, job in peaks):
        worst = max(job.peak_rss_kb for _, job in peaks) / 1024
        text = ", ".join(f"{key} {_mb(job.peak_rss_kb)} MB" for key, job in peaks)
        lines.append(
            f"- peak RSS on the 50 MP JPEGs: {text} "
            f"(target <= {RSS_TARGET_MB:g} MB: {_mark(worst <= RSS_TARGET_MB)})"
        )
    else:
        lines.append("- peak RSS on the 50 MP JPEGs: not measured")
    met = total = 0
    misses, skipped = [], []
    for run in result.sources:
        for name in ("medium", "large"):
            p, n = run.pixstash.variants.get(name), run.naive.variants.get(name)
            if p is None or n is None or p.ssim is None or n.ssim is None:
                continue
            if (p.width, p.height) == (run.file.width, run.file.height):
                skipped.append(f"{run.file.source.key} {name[0]}")  # not resized: a copy of full
                continue
            total += 1
            saved = 1 - p.bytes / n.bytes
            ok = saved >= BYTES_TARGET and round(p.ssim, SSIM_DECIMALS) >= round(
                n.ssim, SSIM_DECIMALS
            )
            met += ok
            if not ok:
                misses.append(
                    f"{run.file.source.key} {name[0]}: {-saved:+.0%} bytes, "
                    f"SSIM {p.ssim:.3f} vs {n.ssim:.3f}"
                )
    missed = f"; missed: {'; '.join(misses)}" if misses else ""
    unscaled = f"; not counted, no smaller than the source: {', '.join(skipped)}" if skipped else ""
    lines.append(
        f"- medium and large, >= {BYTES_TARGET:.0%} fewer bytes than naive at equal or better "
        f"SSIM ({SSIM_DECIMALS} decimals), per source and variant: {met} of {total} "
        f"({_mark(met == total and total > 0)}{missed}{unscaled})"
    )
    for fmt in ALT_FORMATS:
        rows = [row for row in result.alt_formats if row.fmt == fmt]
        if rows:
            meeting = [
                row
                for row in rows
                if 1 - row.bytes / row.naive_bytes >= BYTES_TARGET
                and round(row.ssim, SSIM_DECIMALS) >= round(row.naive_ssim, SSIM_DECIMALS)
            ]
            lines.append(
                f"  - the same photo variants as {fmt} (not the default extension): "
                f"{len(meeting)} of {len(rows)} meet it"
            )
    return lines
