"""The worker loop: N concurrent tasks that claim jobs and run their handlers.

Used inside the server (embedded) and by ``pixstash worker``. Handlers are coroutines;
CPU-bound handlers push their work to threads, so the event loop stays responsive.
Periodic tasks (the expiry sweeper) run beside the workers, every ``interval`` seconds,
in every process that runs workers: they must be idempotent and safe to run at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence

from pixstash.errors import BackendUnavailable
from pixstash.jobs.base import Job, JobQueue
from pixstash.telemetry import base as metrics_base
from pixstash.telemetry.base import NULL_METRICS, Metrics, backend_label
from pixstash.telemetry.context import bound

log = logging.getLogger(__name__)
# A job that met an outage (storage, database, cache) runs again this much later, for as
# long as the outage lasts: accepted uploads become ready once the backend is back.
OUTAGE_DELAY_SECONDS = 5.0

Handler = Callable[[dict[str, str]], Awaitable[None]]
Periodic = tuple[str, float, Callable[[], Awaitable[object]]]  # name, interval, task


class JobRunner:
    def __init__(
        self,
        queue: JobQueue,
        handlers: Mapping[str, Handler],
        *,
        concurrency: int,
        poll_seconds: float = 1.0,
        heartbeat_seconds: float = 20.0,
        outage_delay: float = OUTAGE_DELAY_SECONDS,
        outage_probe: Callable[[], Awaitable[bool]] | None = None,
        metrics: Metrics = NULL_METRICS,
        periodic: Sequence[Periodic] = (),
    ) -> None:
        self.queue = queue
        self.periodic = [task for task in periodic if task[1] > 0]
        self.handlers = dict(handlers)
        self.concurrency = concurrency
        self.poll_seconds = poll_seconds
        self.heartbeat_seconds = heartbeat_seconds
        self.outage_delay = outage_delay
        # Is a backend really down? A "backend-unavailable" error that the backends' own
        # checks do not confirm (no such table, access denied on one key) is the job's
        # failure, counted as an attempt; postponing it would retry it forever.
        self.outage_probe = outage_probe
        self.metrics = metrics
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()

    async def start(self) -> None:
        if self.concurrency <= 0:
            return
        recovered = await self.queue.recover()
        if recovered:
            log.warning("released %d job lease(s) held by dead workers", recovered)
        self._tasks = [
            asyncio.create_task(self._loop(), name=f"pixstash-worker-{i}")
            for i in range(self.concurrency)
        ]
        self._tasks += [
            asyncio.create_task(self._every(interval, task), name=f"pixstash-{name}")
            for name, interval, task in self.periodic
        ]

    async def _every(self, interval: float, task: Callable[[], Awaitable[object]]) -> None:
        while not self._stopping.is_set():
            try:
                await task()
            except asyncio.CancelledError:
                raise
            except Exception:  # a backend outage: try again next time
                log.exception("periodic task failed; retrying in %.0fs", interval)
            await asyncio.sleep(interval)

    async def stop(self) -> None:
        self._stopping.set()
        self.queue.notify()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def run_until_stopped(self) -> None:
        await self.start()
        await self._stopping.wait()

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                job = await self.queue.claim()
                if job is None:
                    await self.queue.wait(self.poll_seconds)
                    continue
                await self.run_one(job)
                self.queue.notify()  # more may be due: let an idle sibling look too
            except asyncio.CancelledError:
                raise
            except Exception:  # the queue's backend failed: keep the worker alive
                log.exception("job queue error; retrying in %.1fs", self.poll_seconds)
                await asyncio.sleep(self.poll_seconds)

    async def run_one(self, job: Job) -> None:
        # Log lines of the job carry the request id of the upload that made it.
        with bound(request_id=job.payload.get("request_id"), job_id=str(job.id), job_kind=job.kind):
            await self._run_one(job)

    async def _run_one(self, job: Job) -> None:
        handler = self.handlers.get(job.kind)
        if handler is None:
            await self.queue.fail(job, f"no handler for job kind {job.kind!r}")
            return
        beat = asyncio.create_task(self._heartbeat(job))
        started = time.perf_counter()
        outcome = metrics_base.COMPLETED
        self.metrics.job_started(job.kind)
        try:
            await handler(job.payload)
        except asyncio.CancelledError:
            outcome = metrics_base.INTERRUPTED
            raise  # shutdown: the lease runs out and another worker takes it
        except BackendUnavailable as exc:  # an outage, not a bad job: no attempt is used
            self.metrics.backend_error(backend_label(exc))
            if await self._outage_confirmed():
                outcome = metrics_base.POSTPONED
                log.warning("job %s (%s) postponed: %s", job.id, job.kind, exc)
                await self.queue.postpone(job, f"{type(exc).__name__}: {exc}", self.outage_delay)
            else:
                outcome = await self._fail(job, exc)
        except Exception as exc:
            outcome = await self._fail(job, exc)
        else:
            await self.queue.complete(job)
            log.info("job %s (%s) done in %.3f s", job.id, job.kind, time.perf_counter() - started)
        finally:
            self.metrics.job_finished(job.kind, outcome, time.perf_counter() - started)
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat

    async def _fail(self, job: Job, exc: Exception) -> str:
        log.error("job %s (%s) failed, attempt %d", job.id, job.kind, job.attempts, exc_info=exc)
        if not await self.queue.fail(job, f"{type(exc).__name__}: {exc}"):
            log.error("job %s dead-lettered after %d attempts", job.id, job.attempts)
            return metrics_base.DEAD_LETTERED
        return metrics_base.FAILED

    async def _outage_confirmed(self) -> bool:
        if self.outage_probe is None:
            return True
        try:
            return await self.outage_probe()
        except Exception:  # the probe itself failed: treat it as an outage
            return True

    async def _heartbeat(self, job: Job) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_seconds)
            try:
                await self.queue.heartbeat(job)
            except Exception:  # a missed beat only risks a duplicate run (idempotent)
                log.warning("could not extend the lease of job %s", job.id, exc_info=True)
