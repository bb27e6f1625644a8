"""thumbor 7.8 as the reference image server: its own virtualenv, file loader, same machine.

thumbor pins an older Pillow than pixstash, so the bench installs it into a virtualenv of
its own (``~/.cache/pixstash-bench/thumbor-7.8-venv`` by default, created once, never
inside the checkout's tracked files). It is started on a free 127.0.0.1 port with the
file loader rooted at the corpus and no storage or result storage, so every request
loads, decodes, resizes and encodes. Each (source, variant) URL gets one warm-up request,
then ``runs`` timed ones (at least 3 for a URL slower than 5 s): wall time per request
(median) and thumbor's CPU time (user + system from /proc) over the timed requests,
divided by their number.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from PIL import Image

from bench.procs import Service, ServiceFailed, free_port, log_tail

THUMBOR_REQUIREMENT = "thumbor==7.8.*"
INSTALL_TIMEOUT_SECONDS = 900
REQUEST_TIMEOUT_SECONDS = 300
MIN_RUNS = 3  # a very slow URL stops at MIN_RUNS timed requests once they took ...
SLOW_BUDGET_MS = 15_000.0  # ... this long
DEFAULT_VENV = (
    Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    / "pixstash-bench"
    / "thumbor-7.8-venv"
)
_STAMP = ".pixstash-bench-installed"
_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "image/webp": "webp"}

# variant name -> URL path prefix (before the file name)
URLS: tuple[tuple[str, str], ...] = (
    ("full", "/unsafe/"),
    ("large", "/unsafe/fit-in/640x640/"),
    ("medium", "/unsafe/fit-in/320x320/"),
    ("thumb", "/unsafe/fit-in/160x160/"),
)


class ThumborUnavailable(RuntimeError):
    """thumbor could not be installed or started: the report says why."""


@dataclass
class ThumborVariant:
    url: str
    wall_ms: list[float] = field(default_factory=list)
    cpu_ms: float | None = None  # thumbor's CPU per timed request
    bytes: int = 0
    width: int = 0
    height: int = 0
    frames: int = 0
    output: Path | None = None  # the warm-up answer's body, for SSIM
    error: str | None = None

    @property
    def wall(self) -> float | None:
        return statistics.median(self.wall_ms) if self.wall_ms else None


def _clean_env() -> dict[str, str]:
    drop = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
    return {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("PIXSTASH_")}


def ensure_thumbor(venv: Path, log: Path) -> tuple[Path, str]:
    """thumbor's executable in ``venv`` (created and installed on first use) and the
    installed versions of thumbor and its Pillow."""
    binary, python = venv / "bin" / "thumbor", venv / "bin" / "python"
    stamp = venv / _STAMP
    if not (binary.exists() and stamp.exists() and stamp.read_text() == THUMBOR_REQUIREMENT):
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("wb") as out:
            for argv in (
                [sys.executable, "-m", "venv", "--clear", str(venv)],
                [str(python), "-m", "pip", "install", "--quiet", THUMBOR_REQUIREMENT],
            ):
                try:
                    done = subprocess.run(
                        argv,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        env=_clean_env(),
                        timeout=INSTALL_TIMEOUT_SECONDS,
                        check=False,
                    )
                except (OSError, subprocess.TimeoutExpired) as exc:
                    raise ThumborUnavailable(f"{' '.join(argv[:4])}: {exc}") from exc
                if done.returncode != 0:
                    raise ThumborUnavailable(
                        f"`{' '.join(argv[2:])}` exited with {done.returncode}: "
                        + _last_line(log_tail(log, 5))
                    )
        stamp.write_text(THUMBOR_REQUIREMENT)
    script = (
        "from importlib.metadata import version as v; "
        "print(f\"thumbor {v('thumbor')} (Pillow {v('pillow')}, tornado {v('tornado')})\")"
    )
    probe = subprocess.run(
        [str(python), "-c", script], capture_output=True, text=True, env=_clean_env(), check=False
    )
    if probe.returncode != 0 or not binary.exists():
        raise ThumborUnavailable(f"broken thumbor venv {venv}: {_last_line(probe.stderr)}")
    return binary, probe.stdout.strip()


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"


def _config(root: Path) -> str:
    return "\n".join(
        [
            "LOADER = 'thumbor.loaders.file_loader'",
            f"FILE_LOADER_ROOT_PATH = {str(root)!r}",
            "ALLOW_UNSAFE_URL = True",
            "STORAGE = 'thumbor.storages.no_storage'",
            "RESULT_STORAGE = None",
            "",
        ]
    )


def measure_thumbor(
    binary: Path,
    corpus_root: Path,
    files: list[tuple[str, str]],
    *,
    work: Path,
    logs: Path,
    runs: int,
    progress: Callable[[str], None],
) -> dict[str, dict[str, ThumborVariant]]:
    """By source key, by variant name. ``files`` = (source key, file name in the corpus)."""
    work.mkdir(parents=True, exist_ok=True)
    conf = work / "thumbor.conf"
    conf.write_text(_config(corpus_root.resolve()))
    port = free_port()
    argv = [str(binary), "--port", str(port), "--ip", "127.0.0.1", "-c", str(conf)]
    argv += ["-l", "warning"]
    base = f"http://127.0.0.1:{port}"
    service = Service("thumbor", argv, log_path=logs / "thumbor.log", env=_clean_env(), cwd=work)
    results: dict[str, dict[str, ThumborVariant]] = {}
    with service.start():
        try:
            service.wait_ready(f"{base}/healthcheck", deadline_seconds=60)
        except ServiceFailed as exc:
            raise ThumborUnavailable(f"thumbor did not start: {_last_line(str(exc))}") from exc
        with httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT_SECONDS) as client:
            for key, name in files:
                progress(f"thumbor: {key}")
                results[key] = {
                    variant: _measure_one(client, service, prefix + name, work / key, variant, runs)
                    for variant, prefix in URLS
                }
    return results


def _measure_one(
    client: httpx.Client, service: Service, url: str, out_dir: Path, variant: str, runs: int
) -> ThumborVariant:
    row = ThumborVariant(url)
    try:
        warm = client.get(url)
        if warm.status_code != 200:
            row.error = f"HTTP {warm.status_code}"
            return row
        ext = _EXTENSIONS.get(warm.headers.get("content-type", ""), "bin")
        out_dir.mkdir(parents=True, exist_ok=True)
        row.output = out_dir / f"{variant}.{ext}"
        row.output.write_bytes(warm.content)
        row.bytes = len(warm.content)
        with Image.open(row.output) as image:
            row.width, row.height = image.size
            row.frames = int(getattr(image, "n_frames", 1))
        cpu_before = service.cpu_seconds()
        for index in range(runs):
            if index >= MIN_RUNS and sum(row.wall_ms) > SLOW_BUDGET_MS:
                break
            started = time.perf_counter()
            response = client.get(url)
            row.wall_ms.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                row.error = f"HTTP {response.status_code}"
                return row
        row.cpu_ms = (service.cpu_seconds() - cpu_before) * 1000 / len(row.wall_ms)
        service.check_alive()
    except (httpx.HTTPError, OSError, ServiceFailed) as exc:
        row.error = f"{type(exc).__name__}: {_last_line(str(exc))}"
    return row
