"""The JobQueue port (consumer side).

Producers never talk to a queue: jobs are rows written in the same transaction as the
data they process (the outbox, see ``MetadataStore.create_image``). A queue hands those
jobs to workers at least once; handlers must be idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

# scheme -> "module:Class"; imported lazily by the composition root.
SCHEMES: dict[str, str] = {
    "db": "pixstash.jobs.dbqueue:DbJobQueue",
    "amqp": "pixstash.jobs.amqp:AmqpJobQueue",
    "amqps": "pixstash.jobs.amqp:AmqpJobQueue",
}

PROCESS_BLOB = "process-blob"
PURGE_BLOB = "purge-blob"


@dataclass(frozen=True, slots=True)
class Job:
    id: int
    kind: str
    payload: dict[str, str]
    attempts: int  # including the current one
    max_attempts: int


class JobQueue(Protocol):
    async def claim(self) -> Job | None:
        """Lease the next due job, or None when there is nothing to do."""
        ...

    async def heartbeat(self, job: Job) -> None:
        """Extend the lease of a job still being worked on."""
        ...

    async def complete(self, job: Job) -> None: ...

    async def fail(self, job: Job, error: str) -> bool:
        """Schedule a retry with backoff; returns False when the job was dead-lettered."""
        ...

    async def postpone(self, job: Job, error: str, delay: float) -> None:
        """Run the job again after about ``delay`` seconds without counting this attempt:
        a backend it needs was down, which says nothing about the job itself."""
        ...

    def notify(self) -> None:
        """Wake this process's idle workers (new jobs were committed)."""
        ...

    async def wait(self, seconds: float) -> None:
        """Sleep until ``notify`` or for ``seconds``."""
        ...

    async def recover(self) -> int:
        """Release leases held by dead workers on this host; returns how many."""
        ...

    async def stats(self) -> dict[str, int]: ...

    async def check(self) -> None: ...

    async def close(self) -> None: ...
