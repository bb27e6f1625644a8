from __future__ import annotations

import struct
import threading
import warnings
import zlib

import pytest
from PIL import Image

from pixstash.errors import ImageCorrupt
from pixstash.processing.guard import decoding, quiet_pillow


def _pillow_warns() -> None:
    warnings.warn_explicit("from Pillow", UserWarning, "TiffImagePlugin.py", 1, "PIL.Tiff")


@pytest.mark.parametrize(
    "error",
    [
        OSError("truncated"),
        SyntaxError("not a PNG"),
        ValueError("bad"),
        EOFError(),
        struct.error("short"),
        zlib.error("bad stream"),
        Image.DecompressionBombError("bomb"),
        IndexError("tag"),
    ],
)
def test_decoder_errors_become_image_corrupt(error: BaseException) -> None:
    with pytest.raises(ImageCorrupt) as caught, decoding():
        raise error
    assert caught.value.__cause__ is error


def test_other_errors_pass_through() -> None:
    with pytest.raises(MemoryError), decoding():
        raise MemoryError
    with pytest.raises(RuntimeError), decoding():
        raise RuntimeError


def test_pillow_warnings_are_muted_and_others_are_not() -> None:
    with quiet_pillow():
        _pillow_warns()
        with pytest.warns(UserWarning, match="ours"):
            warnings.warn("ours", UserWarning, stacklevel=1)


def test_filters_are_restored_after_concurrent_use() -> None:
    before = list(warnings.filters)
    barrier = threading.Barrier(4)

    def work() -> None:
        with quiet_pillow():
            barrier.wait(timeout=5)
            _pillow_warns()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert warnings.filters == before
    with pytest.raises(UserWarning):  # pytest's "error" filter is back in force
        _pillow_warns()
