"""Fuzz the upload validator (sniff, header checks, validating decode) with atheris.

Run by ``make fuzz`` for a bounded time; not part of CI. The only acceptable outcomes
for any input are a ``Probe`` or one of our refusals (``UnsupportedMediaType``,
``ImageRejected``); anything else (a decoder's own exception, a crash, a hang caught
by ``-timeout``) is a finding. Seeds are the hostile corpus's valid sources.

    python tests/fuzz/fuzz_validator.py -max_total_time=60 -timeout=5 -rss_limit_mb=2048
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports():
    from pixstash.errors import ImageRejected, UnsupportedMediaType
    from pixstash.processing.pillow_engine import PillowEngine

MAX_PIXELS = 50_000_000
ENGINE = PillowEngine()
WORKDIR = Path(
    tempfile.mkdtemp(prefix="pixstash-fuzz-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
)
SAMPLE = WORKDIR / "input.bin"


def test_one_input(data: bytes) -> None:
    SAMPLE.write_bytes(data)
    with contextlib.suppress(UnsupportedMediaType, ImageRejected):
        ENGINE.probe(SAMPLE, max_pixels=MAX_PIXELS)


def write_seeds(directory: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from tests.hostile.corpus import sources

    directory.mkdir(parents=True, exist_ok=True)
    for name, data in sources().items():
        (directory / name).write_bytes(data)


def main() -> None:
    seeds = WORKDIR / "corpus"
    write_seeds(seeds)
    argv = (
        [*sys.argv, str(seeds)]
        if not any(not a.startswith("-") for a in sys.argv[1:])
        else sys.argv
    )
    os.chdir(WORKDIR)  # crash and OOM artifacts land here, not in the checkout
    print(f"fuzz_validator: inputs that fail are written to {WORKDIR}", flush=True)
    atheris.Setup(argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
