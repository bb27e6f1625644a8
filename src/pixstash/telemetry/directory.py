"""The directory where the processes of one ``pixstash serve`` (N granian workers) or
``pixstash worker`` (its supervised children) share their metrics.

prometheus-client picks its multiprocess mode when it is imported, from
``PROMETHEUS_MULTIPROC_DIR``: so this module imports no prometheus code, and the CLI calls
``prepare_directory`` before anything imports it. Forked and spawned children inherit the
variable. Values left by an earlier run would be summed in, so the directory starts empty:
``PIXSTASH_METRICS_DIR`` is wiped of ``*.db`` files, or a fresh temp directory is made
(named after this process) and ``remove_directory`` deletes it at exit; one left by a
process killed with SIGKILL is deleted by the next start.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_PREFIX = "pixstash-metrics-"


def prepare_directory(configured: str | None) -> tuple[Path | None, bool]:
    """Make the shared metrics directory ready and export it to this process and its
    children. Returns (path, whether we created it and must remove it at exit); no path
    when prometheus-client was imported already (the CLI run inside another program, as
    tests do): its mode is chosen, and this process keeps its own values."""
    if "prometheus_client" in sys.modules:
        return None, False
    if configured:
        path = Path(configured)
        path.mkdir(parents=True, exist_ok=True)
        for old in path.glob("*.db"):  # values of an earlier run would be summed in
            old.unlink(missing_ok=True)
        created = False
    else:
        _remove_orphans()
        path = Path(tempfile.mkdtemp(prefix=f"{_PREFIX}{os.getpid()}-"))
        created = True
    os.environ[MULTIPROC_ENV] = str(path)
    return path, created


def remove_directory(path: Path | None, created: bool) -> None:
    if path is not None and os.environ.get(MULTIPROC_ENV) == str(path):
        del os.environ[MULTIPROC_ENV]
    if path is not None and created:
        shutil.rmtree(path, ignore_errors=True)


def _remove_orphans() -> None:
    """Temp directories of processes killed before they could remove theirs (SIGKILL)."""
    for old in Path(tempfile.gettempdir()).glob(f"{_PREFIX}*-*"):
        owner = old.name.removeprefix(_PREFIX).split("-", 1)[0]
        if owner.isdigit() and not process_alive(int(owner)):
            shutil.rmtree(old, ignore_errors=True)


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
