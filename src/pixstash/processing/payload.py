"""A last check before serving re-packed bytes: no markup or script text inside.

Lossless re-packing keeps a file's picture data byte for byte, and picture data can be
crafted to carry text: a JPEG quantisation table or scan, a GIF colour table or LZW data.
Browsers never run it (media is served with its exact type, ``nosniff`` and a sandbox
CSP), but a file that carries it is re-encoded instead of re-packed, so no served byte
holds a payload meant for a misconfigured server or a careless viewer.
"""

from __future__ import annotations

import re

# Markers of five bytes or more: shorter ones ("<%", "<a ") turn up by chance in a few
# megabytes of compressed data, which would only cost a needless re-encode.
_PAYLOAD = re.compile(
    rb"<(?:\?php|(?:script|html|body|head|svg|iframe|object|embed|meta|link|style|form|img)"
    rb"[\s>/]|!doctype|!--)|javascript:|vbscript:",
    re.IGNORECASE,
)


def carries_payload(data: bytes) -> bool:
    return _PAYLOAD.search(data) is not None
