"""What the browser tests share: Chromium's launch options, the real server's start and
stop, test images, and a page listener that collects console errors and CSP violations."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import ConsoleMessage

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
STARTUP_SECONDS = 30.0
UPLOAD_TIMEOUT_MS = 20_000

# Runs before any page script; CSP violations also reach the console as errors.
REPORT_CSP = """
document.addEventListener("securitypolicyviolation", (e) => {
  console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || "inline"}`);
});
"""


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def unavailable(reason: str) -> None:
    if in_ci():
        pytest.fail(f"{reason} (CI=true: the browser tests must run in CI)")
    pytest.skip(f"BROWSER TESTS NOT RUN: {reason}")


# --- test images ---


def jpeg_bytes(width: int = 1200, height: int = 800) -> bytes:
    img = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    r, g, _b = img.split()
    img = Image.merge("RGB", (r, g.transpose(Image.Transpose.ROTATE_180), r))
    img.paste(Image.new("RGB", (width // 4, height // 4), (230, 60, 60)), (40, 40))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=85)
    return out.getvalue()


def png_bytes(
    width: int = 320, height: int = 240, colour: tuple[int, ...] = (0, 140, 255)
) -> bytes:
    img = Image.new("RGBA", (width, height), (*colour, 90))
    img.paste(Image.new("RGBA", (width // 2, height // 2), (255, 200, 0, 255)), (20, 20))
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


# --- the real server ---


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def log_tail(path: Path, lines: int = 40) -> str:
    text = path.read_text(errors="replace") if path.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


def wait_ready(base: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        if proc.poll() is not None:
            pytest.fail(f"pixstash serve exited with {proc.returncode}:\n{log_tail(log)}")
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"pixstash serve not ready in {STARTUP_SECONDS}s:\n{log_tail(log)}")
        time.sleep(0.1)  # polling interval, not synchronisation


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


# --- pages that report their problems ---


@dataclass
class Problems:
    """Console errors, uncaught exceptions and CSP violations seen by a page."""

    seen: list[str] = field(default_factory=list)

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error" or "Content Security Policy" in message.text:
            self.seen.append(f"console.{message.type}: {message.text}")

    def on_page_error(self, error: Exception) -> None:
        self.seen.append(f"uncaught: {error}")

    def assert_none(self, allowed: tuple[str, ...] = ()) -> None:
        left = [m for m in self.seen if not any(a in m for a in allowed)]
        assert left == [], "the page reported problems:\n" + "\n".join(left)
