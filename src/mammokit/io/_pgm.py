"""PGM (P5 binary, P2 ASCII) reader.

Written with numpy rather than Pillow because Pillow rescales a maxval other than 255/65535
to the full range with rounding; here a sample is divided by its maxval exactly.
"""
from __future__ import annotations

import re

import numpy as np

from ..errors import ImageReadError
from ._image import Image, ImageMeta
from ._limits import check_pixels
from ._scale import to_unit

# magic, then width, height, maxval, each separated by whitespace and optional # comments,
# then exactly one whitespace byte before the raster.
_TOKEN = re.compile(rb"(?:\s|#[^\n]*\n?)*(\d+)")


def _header(data: bytes, name: str) -> tuple[bytes, int, int, int, int]:
    magic = data[:2]
    pos = 2
    values = []
    for _ in range(3):
        m = _TOKEN.match(data, pos)
        if m is None:
            raise ImageReadError(name, "corrupt PGM header (expected width, height and maxval)")
        values.append(int(m.group(1)))
        pos = m.end()
    if pos >= len(data) or data[pos : pos + 1] not in (b" ", b"\t", b"\r", b"\n"):
        raise ImageReadError(name, "corrupt PGM header (no whitespace after maxval)")
    width, height, maxval = values
    return magic, width, height, maxval, pos + 1


def read_pgm(data: bytes, name: str, max_pixels: int) -> Image:
    magic, width, height, maxval, start = _header(data, name)
    if not 0 < maxval < 65536:
        raise ImageReadError(name, f"PGM maxval {maxval} is outside 1..65535")
    check_pixels(name, height, width, max_pixels)
    n = width * height
    if magic == b"P5":
        dtype = np.dtype(">u2") if maxval > 255 else np.dtype("u1")  # 16-bit PGM is big-endian
        need = n * dtype.itemsize
        if len(data) - start < need:
            raise ImageReadError(
                name, f"truncated PGM: {len(data) - start} bytes of pixel data, expected {need}"
            )
        samples = np.frombuffer(data, dtype=dtype, count=n, offset=start)
    else:  # P2: ASCII samples
        try:
            samples = np.array(data[start:].split(), dtype=np.int64)
        except ValueError:
            raise ImageReadError(name, "corrupt PGM: non-numeric sample in P2 data") from None
        if samples.size < n:
            raise ImageReadError(name, f"truncated PGM: {samples.size} samples, expected {n}")
        samples = samples[:n]
    if samples.max(initial=0) > maxval:
        raise ImageReadError(name, f"corrupt PGM: a sample exceeds maxval {maxval}")
    pixels = to_unit(samples.reshape(height, width), maxval)
    meta = ImageMeta(path=name, format="pgm", bits_stored=int(maxval).bit_length(), extra={"maxval": maxval})
    return Image(pixels=pixels, meta=meta)
