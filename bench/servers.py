"""The servers under test: pixstash, the floor app (granian) and nginx, each in its own dir."""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from bench.procs import Service, free_port

REPO = Path(__file__).resolve().parent.parent
NGINX_TEMPLATE = Path(__file__).parent / "nginx.conf.template"


@dataclass
class Running:
    service: Service
    base_url: str
    root: Path  # the server's private working directory

    @property
    def db_path(self) -> Path:
        return self.root / "pixstash.db"

    def __enter__(self) -> Running:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.service.stop()


def _clean_env() -> dict[str, str]:
    """This process's environment without inherited PIXSTASH_* settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PIXSTASH_")}


def pixstash_command() -> str:
    beside = Path(sys.executable).parent / "pixstash"
    found = str(beside) if beside.exists() else shutil.which("pixstash")
    if found is None:
        raise FileNotFoundError("no pixstash script beside the interpreter nor on PATH")
    return found


def start_pixstash(
    name: str,
    root: Path,
    log_dir: Path,
    *,
    job_workers: int | None,
    server: str = "granian",
    env: dict[str, str] | None = None,
) -> Running:
    """``pixstash serve`` on a free port with a private SQLite file, blob dir and temp dir.

    ``job_workers=None`` keeps pixstash's default (one per CPU).
    """
    root.mkdir(parents=True)
    port = free_port()
    argv = [pixstash_command(), "serve", "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--server", server]
    if job_workers is not None:
        argv += ["--workers", str(job_workers)]
    full_env = _clean_env() | {
        "PIXSTASH_ENVIRONMENT": "test",
        "PIXSTASH_LOG_LEVEL": "warning",
        "PIXSTASH_DATABASE_URL": f"sqlite:///{root / 'pixstash.db'}",
        "PIXSTASH_STORAGE_URL": f"file://{root / 'blobs'}",
        "PIXSTASH_TMP_DIR": str(root / "tmp"),
        "PIXSTASH_RATE_LIMIT_ANONYMOUS_UPLOADS": "",  # the load comes from one address
    }
    full_env |= env or {}
    # cwd = the private dir, so no ./pixstash.toml or ./var of the checkout is picked up
    service = Service(name, argv, log_path=log_dir / f"{name}.log", env=full_env, cwd=root)
    return _start(service, port, "/healthz", root, deadline_seconds=60)


def start_floor(name: str, root: Path, log_dir: Path) -> Running:
    """``bench.floor_app`` under granian with the settings ``pixstash serve`` gives granian."""
    root.mkdir(parents=True)
    port = free_port()
    argv = [sys.executable, "-m", "granian", "--interface", "asgi"]
    argv += ["--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    argv += ["--backlog", "2048", "--log-level", "warning", "bench.floor_app:app"]
    env = _clean_env() | {"BENCH_FLOOR_TMP": str(root), "PYTHONPATH": str(REPO)}
    service = Service(name, argv, log_path=log_dir / f"{name}.log", env=env, cwd=REPO)
    return _start(service, port, "/healthz", root)


def start_nginx(name: str, prefix: Path, log_dir: Path, files: dict[str, bytes]) -> Running:
    """nginx serving ``files`` (name -> bytes) from ``<prefix>/html``."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    html = prefix / "html"
    html.mkdir(parents=True)
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (prefix / "tmp" / sub).mkdir(parents=True)
    for file_name, data in files.items():
        (html / file_name).write_bytes(data)
        (html / file_name).chmod(0o644)
    # the worker runs as an unprivileged user when we are root: let it reach the files
    prefix.parent.chmod(0o711)
    prefix.chmod(0o755)
    html.chmod(0o755)
    port = free_port()
    conf = prefix / "nginx.conf"
    text = NGINX_TEMPLATE.read_text()
    conf.write_text(text.replace("@PREFIX@", str(prefix)).replace("@PORT@", str(port)))
    argv = [binary, "-e", str(prefix / "error.log"), "-c", str(conf), "-p", str(prefix)]
    service = Service(name, argv, log_path=log_dir / f"{name}.log", cwd=prefix)
    return _start(service, port, f"/{next(iter(files))}", prefix)


def _start(
    service: Service, port: int, probe_path: str, root: Path, deadline_seconds: float = 30
) -> Running:
    """Start ``service``, wait until ``probe_path`` answers, stop it again if it never does."""
    base_url = f"http://127.0.0.1:{port}"
    service.start()
    try:
        service.wait_ready(f"{base_url}{probe_path}", deadline_seconds=deadline_seconds)
    except BaseException:
        service.stop()
        raise
    return Running(service, base_url, root)
