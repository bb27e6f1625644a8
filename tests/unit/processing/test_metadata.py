"""No metadata survives into any output: GPS, EXIF, XMP, ICC, comments, PNG text."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import ExifTags, Image, ImageCms, PngImagePlugin

from pixstash.domain.formats import IMAGE_OUTPUTS, SourceFormat
from pixstash.domain.variants import FULL, THUMB

XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/'
    b'22-rdf-syntax-ns#"><rdf:Description>PLANTED-XMP<script>alert(1)</script>'
    b"</rdf:Description></rdf:RDF></x:xmpmeta>"
)
MARKERS = (b"PLANTED", b"<script>", b"acsp", b"Exif\x00\x00", b"xmpmeta", b"adobe:ns:meta")
METADATA_KEYS = {"exif", "xmp", "XML:com.adobe.xmp", "icc_profile", "comment", "Comment"}


def _exif() -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.ImageDescription] = "PLANTED-EXIF"
    exif[ExifTags.Base.Make] = "PLANTED-MAKE"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (52.0, 22.0, 1.0)
    gps[ExifTags.GPS.GPSAreaInformation] = b"ASCII\x00\x00\x00PLANTED-GPS"
    return exif


def _icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _photo() -> Image.Image:
    return Image.radial_gradient("L").resize((64, 48)).convert("RGB")


def _jpeg(samples) -> Path:
    return samples.save(
        _photo(), "JPEG", exif=_exif(), xmp=XMP, icc_profile=_icc(), comment=b"PLANTED-COM<script>"
    )


def _png(samples) -> Path:
    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", "PLANTED-TEXT <script>")
    text.add_text("Author", "PLANTED-ZTXT", zip=True)
    text.add_itxt("Description", "PLANTED-ITXT <script>", lang="en")
    text.add_itxt("XML:com.adobe.xmp", XMP.decode())
    return samples.save(_photo(), "PNG", pnginfo=text, exif=_exif(), icc_profile=_icc())


def _webp(samples) -> Path:
    return samples.save(_photo(), "WEBP", exif=_exif(), xmp=XMP, icc_profile=_icc())


def _gif(samples) -> Path:
    return samples.save(_photo().convert("P"), "GIF", comment=b"PLANTED-GIF-COMMENT<script>")


def _avif(samples) -> Path:
    return samples.save(_photo(), "AVIF", exif=_exif(), xmp=XMP, icc_profile=_icc())


def _tiff(samples) -> Path:
    return samples.save(_photo(), "TIFF", exif=_exif(), icc_profile=_icc())


SOURCES = {
    SourceFormat.JPEG: _jpeg,
    SourceFormat.PNG: _png,
    SourceFormat.WEBP: _webp,
    SourceFormat.GIF: _gif,
    SourceFormat.AVIF: _avif,
    SourceFormat.TIFF: _tiff,
}


@pytest.mark.parametrize("source", list(SOURCES))
def test_no_metadata_in_any_output(engine, samples, source: SourceFormat) -> None:
    path = SOURCES[source](samples)
    assert any(marker in path.read_bytes() for marker in MARKERS)  # planted
    targets = [(spec, fmt) for spec in (FULL, THUMB) for fmt in IMAGE_OUTPUTS]

    for (spec, fmt), rendered in zip(targets, engine.render(path, source, targets), strict=True):
        where = f"{source} -> {spec.name}.{fmt}"
        for marker in MARKERS:
            assert marker not in rendered.data, f"{marker!r} in {where}"
        with samples.open_rendered(rendered) as image:
            assert not METADATA_KEYS & set(image.info), where
            assert not getattr(image, "text", {}), where
            assert len(image.getexif()) == 0, where
            assert image.getexif().get_ifd(ExifTags.IFD.GPSInfo) == {}, where
