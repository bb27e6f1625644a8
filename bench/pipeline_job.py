"""One measured image job in a fresh process (``python -m bench.pipeline_job``).

The parent (``bench.pipeline``) starts one of these per source and job so that peak RSS
belongs to that source alone. It prints one JSON object on stdout: CPU and wall ms of each
run of the job, the RSS after imports ("baseline") and the peak RSS of the process, and
the variants of the last run (written to ``--out``). Peak RSS is ``VmHWM`` (see
``_peak_kb``).

Jobs:
- ``pixstash``: ``make_engine(NAME).render(source, format, [full, l, m, t])``, as the
  upload worker calls it (the probe is not part of the job: it runs at upload time).
- ``naive``: plain Pillow with its defaults: open, load fully, save the whole image, and
  for each box copy + ``thumbnail((box, box))`` + save (JPEG ``quality=85``; PNG and GIF
  with Pillow's defaults; an animation has all its frames converted to RGB, each one
  thumbnailed, and saved with ``save_all``).
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path

import PIL
from PIL import Image, ImageSequence

# (variant name, box); the order of the render call and of the outputs
VARIANTS: tuple[tuple[str, int | None], ...] = (
    ("full", None),
    ("large", 640),
    ("medium", 320),
    ("thumb", 160),
)
NAIVE_JPEG_QUALITY = 85

# name, bytes, width, height, frames
Output = tuple[str, bytes, int, int, int]
Job = Callable[[], list[Output]]


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0


def _rss_kb() -> int:
    return _status_kb("VmRSS")


def _peak_kb() -> int:
    """The high-water mark of this process's own memory (``VmHWM``).

    Not ``ru_maxrss``: on Linux it survives exec, and a child started with vfork + exec
    (as ``subprocess`` does) inherits its parent's high-water mark.
    """
    return _status_kb("VmHWM")


def pixstash_job(source: Path, fmt_name: str, engine_name: str) -> tuple[Job, str, str]:
    from pixstash.domain.formats import SourceFormat, default_output
    from pixstash.domain.variants import BY_NAME
    from pixstash.processing.engines import make_engine

    engine = make_engine(engine_name)
    fmt = SourceFormat(fmt_name)
    output = default_output(fmt)
    targets = [(BY_NAME[name], output) for name, _ in VARIANTS]
    vips = sys.modules.get("pyvips")
    if vips is not None:  # repeated runs on one file must not hit libvips' operation cache
        vips.cache_set_max(0)

    def job() -> list[Output]:
        rendered = engine.render(source, fmt, targets)
        return [
            (name, r.data, r.width, r.height, r.frames)
            for (name, _), r in zip(VARIANTS, rendered, strict=True)
        ]

    engine_type = type(engine)
    return job, f"{engine_type.__module__}.{engine_type.__qualname__}", output.extension


def naive_job(source: Path, fmt_name: str) -> tuple[Job, str, str]:
    pillow_format = {"jpeg": "JPEG", "png": "PNG", "gif": "GIF"}.get(fmt_name, "PNG")
    extension = {"JPEG": "jpg", "PNG": "png", "GIF": "gif"}[pillow_format]

    def save(frames: list[Image.Image], durations: list[int]) -> bytes:
        out = io.BytesIO()
        if len(frames) > 1:
            frames[0].save(
                out,
                pillow_format,
                save_all=True,
                append_images=frames[1:],
                duration=durations,
                loop=0,
            )
        elif pillow_format == "JPEG":
            frames[0].save(out, "JPEG", quality=NAIVE_JPEG_QUALITY)
        else:
            frames[0].save(out, pillow_format)
        return out.getvalue()

    def job() -> list[Output]:
        with Image.open(source) as image:
            if getattr(image, "n_frames", 1) > 1:
                frames = [frame.convert("RGB") for frame in ImageSequence.Iterator(image)]
                durations = [int(frame.info.get("duration", 100)) for frame in frames]
            else:
                image.load()
                frames, durations = [image.copy()], []
        outputs: list[Output] = []
        for name, box in VARIANTS:
            if box is None:
                sized = frames
            else:
                sized = []
                for frame in frames:
                    copy = frame.copy()
                    copy.thumbnail((box, box))
                    sized.append(copy)
            data = save(sized, durations)
            outputs.append((name, data, sized[0].width, sized[0].height, len(sized)))
        return outputs

    return job, f"Pillow {PIL.__version__}", extension


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pipeline_job")
    parser.add_argument("--job", choices=("pixstash", "naive"), required=True)
    parser.add_argument("--engine", default="auto")
    parser.add_argument("--source", type=Path, required=True)
    parser.add_argument("--format", required=True, help="pixstash SourceFormat value")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.job == "pixstash":
        job, engine, extension = pixstash_job(args.source, args.format, args.engine)
    else:
        job, engine, extension = naive_job(args.source, args.format)
    gc.collect()
    baseline_rss, baseline_peak = _rss_kb(), _peak_kb()
    cpu_ms: list[float] = []
    wall_ms: list[float] = []
    outputs: list[Output] = []
    for _ in range(args.runs):
        outputs = []  # let the previous run's bytes go before the next run
        gc.collect()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        outputs = job()
        wall1, cpu1 = time.perf_counter(), time.process_time()
        cpu_ms.append((cpu1 - cpu0) * 1000)
        wall_ms.append((wall1 - wall0) * 1000)
    args.out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data, width, height, frames in outputs:
        path = args.out / f"{name}.{extension}"
        path.write_bytes(data)
        written.append(
            {
                "variant": name,
                "path": str(path),
                "bytes": len(data),
                "width": width,
                "height": height,
                "frames": frames,
            }
        )
    result = {
        "engine": engine,
        "cpu_ms": cpu_ms,
        "wall_ms": wall_ms,
        "baseline_rss_kb": baseline_rss,
        "baseline_hwm_kb": baseline_peak,
        "peak_rss_kb": _peak_kb(),
        "ru_maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "outputs": written,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
