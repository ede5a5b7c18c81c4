"""read_image / read_image_bytes: file checks, content sniffing and dispatch to one reader."""
from __future__ import annotations

import stat
from os import PathLike
from pathlib import Path

import numpy as np

from .. import constants
from ..errors import ImageReadError
from ._dicom import read_dicom
from ._image import Image
from ._limits import check_bytes, one_line
from ._pgm import read_pgm
from ._raster import read_raster
from ._sniff import SNIFF_BYTES, sniff_bytes


def _decode(data: bytes, name: str, max_pixels: int, max_bytes: int) -> Image:
    check_bytes(name, len(data), max_bytes)
    head = data[:SNIFF_BYTES]
    fmt = sniff_bytes(head)
    if fmt is None:
        raise ImageReadError(
            name, f"not an image: the content is not DICOM, PGM, PNG, JPEG or TIFF (starts with {head[:16]!r})"
        )
    try:
        if fmt == "dicom":
            image = read_dicom(data, name, max_pixels, force=head[128:132] != b"DICM")
        elif fmt == "pgm":
            image = read_pgm(data, name, max_pixels)
        else:
            image = read_raster(data, name, fmt, max_pixels)
        # NaN/Inf can come from float TIFFs or intensity transforms; integer samples divided by their maximum
        # (PGM, OpenCV's PNG/JPEG decode) are finite by construction, so the scan (~0.7 ms/MP) is skipped.
        integer = fmt == "pgm" or image.meta.extra.get("decoder") == "opencv"
        if not integer and not np.isfinite(image.pixels).all():
            raise ImageReadError(name, f"corrupt {fmt} image: pixel values that are not finite numbers")
        return image
    except ImageReadError:
        raise
    except MemoryError:
        raise ImageReadError(name, f"not enough memory to decode this {fmt} image") from None
    except Exception as exc:  # noqa: BLE001 - a reader bug or a library error we did not anticipate: still one line
        raise ImageReadError(name, f"cannot decode {fmt} image: {one_line(exc)}") from None


def read_image(
    path: str | PathLike,
    *,
    max_pixels: int = constants.DEFAULT_MAX_PIXELS,
    max_bytes: int = constants.DEFAULT_MAX_FILE_BYTES,
) -> Image:
    """Read a mammogram (DICOM, PGM, PNG, JPEG, TIFF) as float32 grey pixels in [0, 1], shape (rows, cols).

    The format comes from the file's content, not its suffix. Every failure raises
    `mammokit.errors.ImageReadError` with a one-line message naming the file.
    """
    name = str(path)
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise ImageReadError(name, "no such file") from None
    except OSError as exc:
        raise ImageReadError(name, f"cannot access file: {exc.strerror or one_line(exc)}") from None
    if stat.S_ISDIR(st.st_mode):
        raise ImageReadError(name, "is a directory, not an image file")
    if not stat.S_ISREG(st.st_mode):
        raise ImageReadError(name, "not a regular file")
    check_bytes(name, st.st_size, max_bytes)  # before reading anything into memory
    try:
        with p.open("rb") as fh:
            data = fh.read(max_bytes + 1)  # the file may have grown since stat()
    except OSError as exc:
        raise ImageReadError(name, f"cannot read file: {exc.strerror or one_line(exc)}") from None
    return _decode(data, name, max_pixels, max_bytes)


def read_image_bytes(
    data: bytes,
    name: str,
    *,
    max_pixels: int = constants.DEFAULT_MAX_PIXELS,
    max_bytes: int = constants.DEFAULT_MAX_FILE_BYTES,
) -> Image:
    """Like `read_image` for in-memory content (web uploads); `name` is used in messages and meta.path."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ImageReadError(name, f"expected bytes, got {type(data).__name__}")
    return _decode(bytes(data), name, max_pixels, max_bytes)
