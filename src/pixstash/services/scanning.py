"""The malware-scanning policy: every upload passes the Scanner port before it is
accepted.

Infected: refused (422 ``malware-detected``), logged with the signature, counted. No
verdict (the scanner is down, slow or refuses the file's size): refused with 503
``scanner-unavailable`` (fail closed) unless ``fail_open`` is set, in which case the
upload is accepted unscanned with a warning.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pixstash.errors import MalwareDetected, ScannerUnavailable
from pixstash.security.base import Scanner
from pixstash.services.staging import StagedFile
from pixstash.telemetry.base import NULL_METRICS, Metrics

log = logging.getLogger(__name__)


@dataclass(slots=True)
class ScanCounts:
    """Outcomes since start in this process, for the metrics exporter."""

    clean: int = 0
    infected: int = 0
    unavailable: int = 0  # refused: no verdict and failing closed
    failed_open: int = 0  # accepted unscanned: no verdict and failing open


class UploadScanning:
    def __init__(
        self, scanner: Scanner, *, fail_open: bool, metrics: Metrics = NULL_METRICS
    ) -> None:
        self.scanner = scanner
        self.fail_open = fail_open
        self.counts = ScanCounts()
        self.metrics = metrics

    async def check(self, staged: StagedFile) -> None:
        """Return if ``staged`` may be accepted; raise MalwareDetected or
        ScannerUnavailable if not."""
        try:
            verdict = await self.scanner.scan(staged.path)
        except ScannerUnavailable as exc:
            if not self.fail_open:
                self.counts.unavailable += 1
                self.metrics.scan_verdict("unavailable")
                raise
            self.counts.failed_open += 1
            self.metrics.scan_verdict("failed_open")
            log.warning(
                "accepting an upload unscanned: %s gave no verdict (%s) and "
                "PIXSTASH_SCANNER_FAIL_OPEN=true (sha256 %s, %d bytes)",
                self.scanner.name,
                exc.message,
                staged.sha256,
                staged.size,
            )
            return
        if verdict.clean:
            self.counts.clean += 1
            self.metrics.scan_verdict("clean")
            return
        self.counts.infected += 1
        self.metrics.scan_verdict("infected")
        log.warning(
            "malware refused: %s found by %s in an upload (sha256 %s, %d bytes, name %r)",
            verdict.signature,
            self.scanner.name,
            staged.sha256,
            staged.size,
            staged.filename,
        )
        raise MalwareDetected(
            f"The malware scanner found {verdict.signature} in this file; it was not stored."
        )
