"""``none``: no malware scanner (the embedded default).

Every file is clean to it. Uploads are still validated by content and every served
variant is re-encoded from decoded pixels, which drops whatever rode along in the file
(scripts in comments, appended archives); the original is kept private.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pixstash.security.base import Verdict


class NoScanner:
    name = "none"

    @classmethod
    def from_url(cls, url: str, **_: Any) -> NoScanner:
        return cls()

    async def scan(self, path: Path) -> Verdict:
        return Verdict(clean=True)

    async def check(self) -> None:
        """Always ready: there is nothing to reach."""

    async def close(self) -> None:
        """Nothing to release."""
