"""Short-lived signed URLs for the media of private images.

A private image is never answered on the public, immutable path. Its owner's pages and
API answers link to ``/p/{media name}?exp=<epoch>&sig=<hmac>`` instead: HMAC-SHA256 of
the name and the expiry under a key derived from the server's secret. Anyone holding the
URL can fetch it until ``exp``, the way a presigned S3 URL works; then it is refused as
if the image did not exist. Expiries are rounded up to the minute, so pages rendered
within a minute link the same URL and browsers can reuse what they fetched.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Callable
from datetime import datetime

from pixstash.domain.clock import utc_now

PRIVATE_PREFIX = "/p/"
_ROUND_SECONDS = 60


class PrivateLinkSigner:
    def __init__(
        self,
        secret: bytes,
        *,
        lifetime_seconds: int,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._key = hmac.new(secret, b"pixstash-private-media", hashlib.sha256).digest()
        self.lifetime = lifetime_seconds
        self.clock = clock

    def _signature(self, name: str, expires: int) -> str:
        message = f"{name}\n{expires}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:32]

    def path(self, name: str) -> str:
        """``/p/{name}?exp=...&sig=...`` valid for about ``lifetime`` seconds from now."""
        now = self.clock().timestamp()
        expires = math.ceil((now + self.lifetime) / _ROUND_SECONDS) * _ROUND_SECONDS
        return f"{PRIVATE_PREFIX}{name}?exp={expires}&sig={self._signature(name, expires)}"

    def remaining(self, name: str, expires: str | None, signature: str | None) -> int | None:
        """Seconds the URL stays valid, or None if it is forged, altered or expired."""
        if not expires or not signature or not expires.isdigit() or len(expires) > 12:
            return None
        expected = self._signature(name, int(expires))
        if not hmac.compare_digest(expected, signature):
            return None
        left = int(expires) - math.floor(self.clock().timestamp())
        return left if left > 0 else None
