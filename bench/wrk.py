"""Running wrk and reading its numbers (printed as JSON by the Lua ``done`` hook)."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).parent
UPLOAD_SCRIPT = HERE / "upload.lua"
GET_SCRIPT = HERE / "get.lua"
_MARK = "BENCH_JSON "


class WrkFailed(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class WrkResult:
    requests: int
    duration_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    non_2xx: int  # responses outside 200-299 (3xx included, unlike wrk's own count)
    socket_errors: int  # connect, read, write, timeout
    raw: str  # wrk's text output, kept for the logs

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0


def wrk_binary() -> str:
    found = shutil.which("wrk") or ("/usr/bin/wrk" if Path("/usr/bin/wrk").exists() else None)
    if found is None:
        raise WrkFailed("wrk is not installed (apt-get install -y wrk)")
    return found


def run_wrk(
    url: str,
    *,
    script: Path,
    connections: int,
    duration_s: float,
    threads: int = 1,
    script_args: tuple[str, ...] = (),
) -> WrkResult:
    seconds = max(1, round(duration_s))
    argv = [
        wrk_binary(),
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "--latency",
        "-s",
        str(script),
        url,
    ]
    if script_args:
        argv += ["--", *script_args]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60, check=False)
    output = done.stdout + done.stderr
    if done.returncode != 0:
        raise WrkFailed(f"wrk exited with {done.returncode}:\n{output}")
    for line in output.splitlines():
        if line.startswith(_MARK):
            data = json.loads(line[len(_MARK) :])
            break
    else:
        raise WrkFailed(f"no {_MARK.strip()} line in wrk output:\n{output}")
    return WrkResult(
        requests=int(data["requests"]),
        duration_s=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
        non_2xx=int(data["non_2xx"]),
        socket_errors=int(data["socket_errors"]),
        raw=output,
    )
