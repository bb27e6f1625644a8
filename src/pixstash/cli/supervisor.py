"""Run N copies of a command and keep them running: ``pixstash worker --processes N``.

The parent does no job work. It starts each child, forwards SIGTERM/SIGINT as SIGTERM for
a graceful stop (escalating to SIGKILL after ``stop_timeout``, or at a second signal),
restarts a child that died while nobody asked it to, and gives up with a non-zero exit
when one keeps dying right after start (a configuration or backend problem that a restart
loop would only hide). Restarts back off exponentially, so a crash loop never spins.

Plain subprocesses rather than ``multiprocessing``: each child is an ordinary
``pixstash worker --processes 1``, so its own event loop, signal handling and
connections are exactly those of the single-process worker.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import FrameType

log = logging.getLogger("pixstash.supervisor")


# A worker process exits with this status when it could not start (backends, schema):
# that counts as a start failure however long the start took on a loaded machine.
START_FAILED = 3


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    first_delay: float = 0.5  # seconds before the first restart; doubles per quick death
    max_delay: float = 30.0
    min_uptime: float = 10.0  # a child that dies sooner counts as failing at start
    max_start_failures: int = 5  # in a row, for one slot: then the supervisor gives up
    stop_timeout: float = 30.0  # after SIGTERM, before SIGKILL

    def delay(self, quick_failures: int) -> float:
        exponent = max(quick_failures - 1, 0)
        return float(min(self.first_delay * 2**exponent, self.max_delay))


@dataclass(slots=True)
class _Slot:
    number: int
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    quick_failures: int = 0
    restart_at: float = 0.0


@dataclass
class Supervisor:
    command: Sequence[str]
    processes: int
    policy: RestartPolicy = field(default_factory=RestartPolicy)
    env: Mapping[str, str] | None = None
    _slots: list[_Slot] = field(init=False, default_factory=list)
    _wake: threading.Event = field(init=False, default_factory=threading.Event)
    _signals: int = field(init=False, default=0)

    def run(self) -> int:
        """Supervise until a stop signal (exit 0) or a child that keeps failing (exit 1)."""
        previous = {
            sig: signal.signal(sig, self._handle)
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD)
        }
        try:
            self._slots = [_Slot(n) for n in range(1, self.processes + 1)]
            for slot in self._slots:
                self._start(slot)
            code = self._supervise()
            self._stop_all()
            return code
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if signum != signal.SIGCHLD:
            self._signals += 1
            if self._signals > 1:  # asked twice: stop waiting for jobs to end
                self._signal_children(signal.SIGKILL)
        self._wake.set()

    def _supervise(self) -> int:
        while not self._signals:
            now = time.monotonic()
            for slot in self._slots:
                exited = slot.process is not None and slot.process.poll() is not None
                if exited and not self._schedule_restart(slot, now):
                    return 1
                if slot.process is None and now >= slot.restart_at:
                    self._start(slot)
            pending = [s.restart_at - now for s in self._slots if s.process is None]
            # SIGCHLD and stop signals set the event; the timeout only bounds a missed wake-up
            self._wake.wait(max(min(pending, default=1.0), 0.01))
            self._wake.clear()
        return 0

    def _schedule_restart(self, slot: _Slot, now: float) -> bool:
        assert slot.process is not None
        code, pid = slot.process.returncode, slot.process.pid
        slot.process = None
        uptime = now - slot.started_at
        how = f"was killed by signal {-code}" if code < 0 else f"exited with status {code}"
        if code == START_FAILED or uptime < self.policy.min_uptime:
            slot.quick_failures += 1
        else:
            slot.quick_failures = 1
        if slot.quick_failures >= self.policy.max_start_failures:
            log.error(
                "worker process %d (pid %d) %s %d times in a row within %.0fs of starting; "
                "giving up",
                slot.number,
                pid,
                how,
                slot.quick_failures,
                self.policy.min_uptime,
            )
            return False
        delay = self.policy.delay(slot.quick_failures)
        slot.restart_at = now + delay
        log.warning(
            "worker process %d (pid %d) %s after %.1fs; restarting in %.1fs",
            slot.number,
            pid,
            how,
            uptime,
            delay,
        )
        return True

    def _start(self, slot: _Slot) -> None:
        slot.process = subprocess.Popen(  # noqa: S603 (our own command, no shell)
            list(self.command), env=None if self.env is None else dict(self.env)
        )
        slot.started_at = time.monotonic()
        log.info("worker process %d started (pid %d)", slot.number, slot.process.pid)

    def _signal_children(self, sig: int) -> None:
        for slot in self._slots:
            if slot.process is not None and slot.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    slot.process.send_signal(sig)

    def _stop_all(self) -> None:
        """SIGTERM every child, wait up to ``stop_timeout``, then SIGKILL what is left."""
        self._signal_children(signal.SIGTERM)
        deadline = time.monotonic() + self.policy.stop_timeout
        for slot in self._slots:
            if slot.process is None:
                continue
            try:
                slot.process.wait(timeout=max(deadline - time.monotonic(), 0))
            except subprocess.TimeoutExpired:
                log.warning("worker process %d did not stop in time; killing it", slot.number)
                slot.process.kill()
                slot.process.wait()
            slot.process = None


def child_command(concurrency: int, *, python: str, parent_pid: int | None = None) -> list[str]:
    """The command line of one supervised worker process."""
    return [
        python,
        "-m",
        "pixstash",
        "worker",
        "--processes",
        "1",
        "--concurrency",
        str(concurrency),
        "--parent-pid",
        str(parent_pid if parent_pid is not None else os.getpid()),
    ]
