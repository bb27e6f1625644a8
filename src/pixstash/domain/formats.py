"""Image formats: what we accept (by content) and what we can serve (by extension)."""

from __future__ import annotations

import enum


class SourceFormat(enum.StrEnum):
    """A format accepted on upload, recognised by its magic bytes."""

    JPEG = "jpeg"
    PNG = "png"
    GIF = "gif"
    WEBP = "webp"
    AVIF = "avif"
    BMP = "bmp"
    TIFF = "tiff"

    @property
    def mime(self) -> str:
        return _SOURCE_MIME[self]

    @property
    def extension(self) -> str:
        """Extension of the stored original."""
        return _SOURCE_EXT[self]


_SOURCE_MIME = {
    SourceFormat.JPEG: "image/jpeg",
    SourceFormat.PNG: "image/png",
    SourceFormat.GIF: "image/gif",
    SourceFormat.WEBP: "image/webp",
    SourceFormat.AVIF: "image/avif",
    SourceFormat.BMP: "image/bmp",
    SourceFormat.TIFF: "image/tiff",
}
_SOURCE_EXT = {
    SourceFormat.JPEG: "jpg",
    SourceFormat.PNG: "png",
    SourceFormat.GIF: "gif",
    SourceFormat.WEBP: "webp",
    SourceFormat.AVIF: "avif",
    SourceFormat.BMP: "bmp",
    SourceFormat.TIFF: "tiff",
}


class OutputFormat(enum.StrEnum):
    """A format we serve, chosen by the URL's extension."""

    JPEG = "jpg"
    PNG = "png"
    GIF = "gif"
    WEBP = "webp"
    AVIF = "avif"
    MP4 = "mp4"  # an animation as H.264 video (Imgur's "gifv")

    @property
    def mime(self) -> str:
        return _OUTPUT_MIME[self]

    @property
    def is_video(self) -> bool:
        return self is OutputFormat.MP4

    @property
    def extension(self) -> str:
        return self.value

    @property
    def supports_alpha(self) -> bool:
        return self not in (OutputFormat.JPEG, OutputFormat.MP4)

    @property
    def supports_animation(self) -> bool:
        return self in (OutputFormat.GIF, OutputFormat.WEBP, OutputFormat.PNG, OutputFormat.MP4)

    @classmethod
    def from_extension(cls, ext: str) -> OutputFormat | None:
        ext = ext.lower()
        if ext == "jpeg":
            ext = "jpg"
        try:
            return cls(ext)
        except ValueError:
            return None


IMAGE_OUTPUTS: tuple[OutputFormat, ...] = tuple(f for f in OutputFormat if not f.is_video)

_OUTPUT_MIME = {
    OutputFormat.JPEG: "image/jpeg",
    OutputFormat.PNG: "image/png",
    OutputFormat.GIF: "image/gif",
    OutputFormat.WEBP: "image/webp",
    OutputFormat.AVIF: "image/avif",
    OutputFormat.MP4: "video/mp4",
}


def default_output(source: SourceFormat) -> OutputFormat:
    """The extension links use by default: it follows the source.

    BMP and TIFF are not web formats; they are served as (lossless) PNG.
    """
    return {
        SourceFormat.JPEG: OutputFormat.JPEG,
        SourceFormat.PNG: OutputFormat.PNG,
        SourceFormat.GIF: OutputFormat.GIF,
        SourceFormat.WEBP: OutputFormat.WEBP,
        SourceFormat.AVIF: OutputFormat.AVIF,
        SourceFormat.BMP: OutputFormat.PNG,
        SourceFormat.TIFF: OutputFormat.PNG,
    }[source]


def sniff(head: bytes) -> SourceFormat | None:
    """Recognise an accepted format from the first bytes of a file (>= 32 bytes).

    Only magic bytes count; file names and declared Content-Types are ignored.
    """
    if head.startswith(b"\xff\xd8\xff"):
        return SourceFormat.JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return SourceFormat.PNG
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return SourceFormat.GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return SourceFormat.WEBP
    if head[4:8] == b"ftyp" and head[8:12] in (b"avif", b"avis"):
        return SourceFormat.AVIF
    if head[:2] == b"BM" and len(head) >= 26:
        return SourceFormat.BMP
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return SourceFormat.TIFF
    return None
