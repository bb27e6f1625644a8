"""A last check before serving re-packed bytes: no markup or script text inside.

Lossless re-packing keeps a file's picture data byte for byte, and picture data can be
crafted to carry text: a JPEG quantisation table or scan, a GIF colour table or LZW data.
Browsers never run it (media is served with its exact type, ``nosniff`` and a sandbox
CSP), but a file that carries it is re-encoded instead of re-packed, so no served byte
holds a payload meant for a misconfigured server or a careless viewer.

It is a list of known markers, so it is a net, not a proof: short markers (PHP's
``<?=``, 3 bytes) occur by chance in compressed data and are not on it. What makes
served media harmless is the delivery (exact type, ``nosniff``, ``sandbox``).
"""

from __future__ import annotations

import re

# Markers of five bytes or more: shorter ones ("<%", "<a ") turn up by chance in a few
# megabytes of compressed data, which would only cost a needless re-encode. Matched on
# lower-cased bytes with a pattern that starts with a literal, which the regex engine
# skips to: ~3 ms for 2.6 MB, where one case-insensitive pattern took ~37 ms.
_TAGS = re.compile(
    rb"<(?:\?php|\?xml|x:xmp|(?:script|html|body|head|svg|math|iframe|object|embed|meta|link"
    rb"|style|form|img)[\s>/]|!doctype|!--)"
)
# javascript:/vbscript: URLs, a PDF header, a ZIP local file header (a JAR or an archive
# appended to, or woven into, a picture).
_LITERALS = (b"script:", b"%pdf-", b"pk\x03\x04")


def carries_payload(data: bytes) -> bool:
    lowered = data.lower()
    return any(marker in lowered for marker in _LITERALS) or _TAGS.search(lowered) is not None
