"""``python -m bench``: run every benchmark once, print and save the markdown report."""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import tempfile
import time
import uuid
from pathlib import Path
from types import FrameType

from bench.cluster import ClusterRow, render_cluster, run_cluster
from bench.ingest import upload_rows
from bench.measure import BenchConfig, Row
from bench.pipeline import PipelineResult, render_pipeline, run_pipeline
from bench.report import machine_info, render
from bench.sample import jpeg_near
from bench.thumbor_bench import DEFAULT_VENV
from bench.thumbs import get_rows
from pixstash.processing.engines import ENGINE_NAMES

OUT_DIR = Path(__file__).parent / "out"


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--only",
        choices=("upload", "get", "pipeline", "cluster"),
        help="run one benchmark only",
    )
    parser.add_argument(
        "--cluster-uploads", type=int, default=120, help="cluster: measured uploads per shape"
    )
    parser.add_argument("--upload-seconds", type=float, default=10.0)
    parser.add_argument("--get-seconds", type=float, default=5.0)
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="report and logs directory")
    parser.add_argument(
        "--engine", default="auto", choices=ENGINE_NAMES, help="pipeline: pixstash image engine"
    )
    parser.add_argument("--pipeline-runs", type=int, default=3, help="pipeline: runs per job")
    parser.add_argument("--thumbor-runs", type=int, default=5, help="pipeline: timed requests")
    parser.add_argument(
        "--thumbor-venv", type=Path, default=DEFAULT_VENV, help="pipeline: thumbor's virtualenv"
    )
    return parser.parse_args(argv)


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # unwinds through every `with`, which stops the servers


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started ignoring it
    for tool in ("wrk", "nginx") if args.only not in ("pipeline", "cluster") else ("nginx",):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            print(f"{tool} is missing: apt-get install -y nginx wrk", file=sys.stderr)
            return 2
    out: Path = args.out
    logs = out / "logs"
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir(parents=True)
    work = Path(tempfile.mkdtemp(prefix="pixstash-bench-"))
    started = time.monotonic()
    try:
        jpeg = work / "sample.jpg"
        jpeg.write_bytes(jpeg_near(200 * 1024))
        cfg = BenchConfig(
            work=work,
            logs=logs,
            jpeg=jpeg,
            nonce=uuid.uuid4().hex[:8],
            upload_seconds=args.upload_seconds,
            get_seconds=args.get_seconds,
        )
        info = machine_info()
        uploads: list[Row] = []
        gets: list[Row] = []
        pipeline: PipelineResult | None = None
        clusters: list[ClusterRow] = []
        if args.only in (None, "upload"):
            _progress("upload ingest", started)
            uploads = upload_rows(cfg)
        if args.only in (None, "get"):
            _progress("cached thumbnail GET", started)
            gets = get_rows(cfg)
        if args.only in (None, "pipeline"):
            pipeline = run_pipeline(
                out=out,
                work=work,
                logs=logs,
                engine=args.engine,
                runs=args.pipeline_runs,
                thumbor_runs=args.thumbor_runs,
                thumbor_venv=args.thumbor_venv,
                progress=lambda what: _progress(what, started),
            )
        if args.only in (None, "cluster"):
            clusters = run_cluster(
                work,
                jpeg.read_bytes(),
                cfg.nonce,
                uploads=args.cluster_uploads,
                progress=lambda what: _progress(what, started),
            )
        info["bench wall time"] = f"{time.monotonic() - started:.0f} s"
        report = render(
            cfg,
            info,
            uploads,
            gets,
            [
                *(render_pipeline(pipeline) if pipeline else []),
                *render_cluster(clusters, jpeg.stat().st_size),
            ],
        )
    except KeyboardInterrupt:
        print("\ninterrupted: servers stopped", file=sys.stderr)
        return 130
    finally:
        shutil.rmtree(work, ignore_errors=True)
    (out / "results.md").write_text(report)
    print(report)
    print(f"written to {out / 'results.md'}; server logs and raw wrk output in {logs}")
    failed = [row for row in uploads + gets if row.error or any(r.non_2xx for r in row.runs)]
    for row in failed:
        print(f"\nFAILED {row.label}: {row.error or 'non-2xx answers'}", file=sys.stderr)
    pipeline_failed = pipeline.failures() if pipeline else []
    for line in pipeline_failed:
        print(f"\nFAILED {line}", file=sys.stderr)
    cluster_failed = [shape for shape in clusters if shape.error]
    for shape in cluster_failed:
        print(f"\nFAILED cluster {shape.label}: {shape.error}", file=sys.stderr)
    return 1 if failed or pipeline_failed or cluster_failed else 0


def _progress(what: str, started: float) -> None:
    print(f"[{time.monotonic() - started:5.1f} s] {what} ...", file=sys.stderr, flush=True)
