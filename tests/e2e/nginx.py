"""A real nginx on loopback, configured from the shipped deploy/nginx/pixstash.conf.

The shipped file is an http{}-level template with ``${PIXSTASH_...}`` variables (the
envsubst syntax). ``render`` fills them in, refusing a variable it was not given; the test
wraps the result in a minimal main configuration whose pid, logs and temp paths live in
the test's own prefix directory. Without nginx the tests are skipped, loudly; under
CI=true they fail (``.ci/run`` installs it).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import free_port, wait_until

TEMPLATE = Path(__file__).parents[2] / "deploy" / "nginx" / "pixstash.conf"
ACCEL_PREFIX = "/_blobs/"
_VARIABLE = re.compile(r"\$\{(PIXSTASH_[A-Z0-9_]+)\}")


def nginx_binary() -> str:
    """The nginx executable; skips (fails under CI=true) when there is none."""
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if found is None:
        reason = "nginx is not installed (apt-get install nginx)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true needs nginx: {reason}", pytrace=False)
        pytest.skip(f"!!! NGINX TESTS SKIPPED: {reason} !!!")
    return found


def render(template: str, values: dict[str, str]) -> str:
    """Substitute ``${PIXSTASH_...}``; every variable must be given, and every value used."""
    used = set(_VARIABLE.findall(template))
    if used != set(values):
        raise KeyError(f"template variables {sorted(used)} != given {sorted(values)}")
    return _VARIABLE.sub(lambda match: values[match[1]], template)


def main_config(prefix: Path, site: Path) -> str:
    """nginx.conf for a test: everything nginx writes stays under ``prefix``."""
    user = "user root root;\n" if os.geteuid() == 0 else ""  # workers must read tmp dirs
    temp = prefix / "temp"
    return f"""{user}worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log info;
events {{ worker_connections 512; }}
http {{
    default_type application/octet-stream;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    include {site};
}}
"""


@dataclass
class Nginx:
    prefix: Path
    upstreams: list[str]
    blobs: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def access_log(self) -> Path:
        return self.prefix / "access.log"

    def write_config(self) -> Path:
        if len(self.upstreams) != 2:
            raise ValueError("the shipped template lists two upstream servers")
        (self.prefix / "temp").mkdir(parents=True, exist_ok=True)
        (self.prefix / "state").mkdir(exist_ok=True)
        site = self.prefix / "pixstash.conf"
        site.write_text(
            render(
                TEMPLATE.read_text(),
                {
                    "PIXSTASH_LISTEN": f"127.0.0.1:{self.port}",
                    "PIXSTASH_WEB_1": self.upstreams[0],
                    "PIXSTASH_WEB_2": self.upstreams[1],
                    "PIXSTASH_BLOBS_DIR": str(self.blobs),
                    "PIXSTASH_NGINX_STATE_DIR": str(self.prefix / "state"),
                    "PIXSTASH_NGINX_ACCESS_LOG": str(self.access_log),
                },
            )
        )
        conf = self.prefix / "nginx.conf"
        conf.write_text(main_config(self.prefix, site))
        return conf

    def command(self, *args: str) -> list[str]:
        conf = self.write_config()
        prefix = str(self.prefix)
        return [nginx_binary(), "-p", prefix, "-c", str(conf), "-e", f"{prefix}/error.log", *args]

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.command("-g", "daemon off;"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_until(self._answers, 30, f"nginx to answer (log: {self.prefix}/error.log)")

    def _answers(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            log = (self.prefix / "error.log").read_text(errors="replace")
            raise AssertionError(f"nginx exited: {log}")
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)  # fast shutdown, workers included
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=15)
        self.process = None
