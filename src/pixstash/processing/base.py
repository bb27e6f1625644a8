"""The processing port. Engines are synchronous and CPU-bound: callers run them in a
worker thread, never on the event loop."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from pixstash.domain.formats import OutputFormat, SourceFormat
from pixstash.domain.model import Placeholder, Probe, Rendered
from pixstash.domain.variants import VariantSpec


class ImageEngine(Protocol):
    def probe(self, path: Path, *, max_pixels: int) -> Probe:
        """Identify ``path`` by its magic bytes and validate it.

        Limits are checked from the header before any pixel is decoded
        (width x height x frames <= ``max_pixels``), then the image is decoded to prove
        it is intact. Raises ``UnsupportedMediaType``, ``ImageTooLarge`` or
        ``ImageCorrupt``; never a decoder's own exception.
        """
        ...

    def render(
        self,
        source: Path,
        source_format: SourceFormat,
        targets: Sequence[tuple[VariantSpec, OutputFormat]],
    ) -> list[Rendered]:
        """Render every target from one decode of ``source``, in the order given.

        Orientation applied, metadata (EXIF, XMP, IPTC, comments) stripped, ICC
        converted to sRGB, alpha kept where the format allows, animation kept for
        animated outputs.
        """
        ...

    def describe(self, data: bytes) -> Placeholder:
        """The placeholder (BlurHash, dominant colour) of an encoded, small variant."""
        ...
