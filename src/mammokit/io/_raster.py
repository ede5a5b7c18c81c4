"""PNG, JPEG and TIFF through Pillow (tifffile as a fallback for TIFF layouts Pillow cannot open).

Grey 8/16-bit PNG and grey JPEG, the common mammogram exports, are decoded by OpenCV's ``imdecode``
instead: faster, and the same samples as Pillow's (both use zlib / libjpeg-turbo; compared on real MIAS
images in tests/test_preprocess_fast.py). Pillow still parses the header first, so the size and bomb
checks are unchanged, and anything else (colour, palette, alpha, low bit depths, multi-frame) stays with Pillow.

The file is opened lazily and its size checked against `max_pixels` before `load()`, so a
decompression bomb is refused without allocating. Pillow's own global bomb limit is lifted only
inside our open call (under a lock), because our check replaces it with a clear error message.
"""
from __future__ import annotations

import io
import threading
import warnings
from contextlib import contextmanager

import cv2
import numpy as np
from PIL import Image as PILImage

from ..errors import ImageReadError
from ._image import Image, ImageMeta
from ._limits import check_pixels, one_line
from ._scale import to_unit

_PIL_FORMATS = {"png": "PNG", "jpeg": "JPEG", "tiff": "TIFF"}
_PIL_GLOBAL_LOCK = threading.Lock()
# ITU-R 601-2 luma, as Pillow's convert("L") uses, applied in float32 for 16-bit colour TIFF.
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


@contextmanager
def _no_pillow_bomb_limit():
    with _PIL_GLOBAL_LOCK:
        saved = PILImage.MAX_IMAGE_PIXELS
        PILImage.MAX_IMAGE_PIXELS = None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", PILImage.DecompressionBombWarning)
                yield
        finally:
            PILImage.MAX_IMAGE_PIXELS = saved


def _pixels_from_pillow(im: PILImage.Image, name: str) -> tuple[np.ndarray, int]:
    """Decoded Pillow image -> (float32 grey [0, 1], bits per source sample)."""
    mode = im.mode
    if mode.startswith("I;16"):
        return to_unit(np.asarray(im), 65535), 16
    if mode == "I":  # 32-bit container; Pillow uses it for some 16-bit grey files
        arr = np.asarray(im)
        if arr.size and (arr.min() < 0 or arr.max() > 65535):
            raise ImageReadError(name, "unsupported 32-bit integer samples (only 8/16-bit images)")
        return to_unit(arr, 65535), 16
    if mode == "F":
        arr = np.asarray(im, dtype=np.float32)
        if not np.isfinite(arr).all() or arr.min(initial=0) < 0 or arr.max(initial=0) > 1:
            raise ImageReadError(name, "unsupported floating-point samples outside [0, 1]")
        return arr.copy(), 32
    if mode == "L":
        return to_unit(np.asarray(im), 255), 8
    if mode == "1":
        return to_unit(np.asarray(im.convert("L")), 255), 1
    # P, PA, LA, RGB, RGBA, CMYK, YCbCr, ...: Pillow's own luma conversion (alpha is ignored).
    try:
        grey = im.convert("L")
    except (ValueError, OSError) as exc:
        raise ImageReadError(name, f"unsupported colour mode {mode!r}: {one_line(exc)}") from None
    return to_unit(np.asarray(grey), 255), 8


# (format, Pillow mode, Pillow raw mode) -> the sample type OpenCV must return for the same pixels
_OPENCV_LAYOUTS = {("png", "L", "L"): np.uint8, ("png", "I;16", "I;16B"): np.uint16,
                   ("png", "I", "I;16B"): np.uint16, ("jpeg", "L", "L"): np.uint8}


def _opencv_samples(data: bytes, im: PILImage.Image, fmt: str) -> np.ndarray | None:
    """The grey samples decoded by OpenCV, or None when the file's layout is not one it handles the same."""
    args = im.tile[0][3] if len(im.tile) == 1 else None  # PNG: "L"; JPEG: ("L", "")
    raw = args if isinstance(args, str) else (args[0] if args else None)
    dtype = _OPENCV_LAYOUTS.get((fmt, im.mode, raw))
    if dtype is None or "transparency" in im.info:
        return None
    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if arr is None or arr.dtype != dtype or arr.shape != (im.size[1], im.size[0]):
        return None
    return arr


class _UseTifffile(Exception):
    """Pillow opened the TIFF but would lose precision; read it with tifffile instead."""


def _tiff_bits(im: PILImage.Image) -> tuple[int, ...]:
    bits = getattr(im, "tag_v2", {}).get(258, (8,))
    return tuple(bits) if isinstance(bits, (tuple, list)) else (int(bits),)


def _read_with_pillow(data: bytes, name: str, fmt: str, max_pixels: int) -> Image:
    with _no_pillow_bomb_limit():
        im = PILImage.open(io.BytesIO(data), formats=[_PIL_FORMATS[fmt]])
    with im:
        if fmt == "tiff" and im.mode in ("RGB", "RGBA") and max(_tiff_bits(im)) > 8:
            raise _UseTifffile  # Pillow would reduce 16-bit colour samples to 8 bits
        width, height = im.size
        frames = getattr(im, "n_frames", 1)
        check_pixels(name, height, width, max_pixels)
        samples = _opencv_samples(data, im, fmt) if frames == 1 and fmt in ("png", "jpeg") else None
        if samples is not None:
            bits = 16 if samples.dtype == np.uint16 else 8
            pixels = to_unit(samples, 65535 if bits == 16 else 255)
            return Image(pixels=pixels, meta=ImageMeta(path=name, format=fmt, bits_stored=bits,
                                                       extra={"mode": im.mode, "decoder": "opencv"}))
        im.load()  # first frame only; Pillow's bomb check runs in open(), so no lifted limit needed here
        pixels, bits = _pixels_from_pillow(im, name)
        extra = {"mode": im.mode}
        if frames > 1:
            extra.update(frames=frames, frame_used=0)
    return Image(pixels=pixels, meta=ImageMeta(path=name, format=fmt, bits_stored=bits, extra=extra))


def _read_tiff_with_tifffile(data: bytes, name: str, max_pixels: int) -> Image:
    import tifffile

    with tifffile.TiffFile(io.BytesIO(data)) as tif:
        page = tif.pages[0]
        shape = page.shape
        check_pixels(name, shape[0], shape[1] if len(shape) > 1 else 1, max_pixels)
        arr = page.asarray()
    if arr.ndim == 3 and arr.shape[-1] in (3, 4):
        arr = arr[..., :3].astype(np.float32) @ _LUMA
    if arr.ndim != 2:
        raise ImageReadError(name, f"unsupported TIFF sample layout {arr.shape}")
    if arr.dtype.kind not in "uf" or (arr.dtype.kind == "u" and arr.dtype.itemsize > 2):
        raise ImageReadError(name, f"unsupported TIFF sample type {arr.dtype}")
    bits = 8 * page.dtype.itemsize if page.dtype is not None else 16
    maxval = 2**bits - 1 if page.dtype is not None and page.dtype.kind == "u" else 1.0
    pixels = np.clip(to_unit(arr, maxval), 0.0, 1.0)
    return Image(pixels=pixels, meta=ImageMeta(path=name, format="tiff", bits_stored=bits,
                                               extra={"reader": "tifffile"}))


def read_raster(data: bytes, name: str, fmt: str, max_pixels: int) -> Image:
    try:
        return _read_with_pillow(data, name, fmt, max_pixels)
    except ImageReadError:
        raise
    except PILImage.DecompressionBombError as exc:  # should not happen with the limit lifted
        raise ImageReadError(name, f"too many pixels: {one_line(exc)}") from None
    except MemoryError:
        raise ImageReadError(name, "not enough memory to decode the image") from None
    except Exception as pil_exc:  # noqa: BLE001 - Pillow raises OSError/SyntaxError/ValueError/... on bad data
        if fmt == "tiff":
            try:
                return _read_tiff_with_tifffile(data, name, max_pixels)
            except ImageReadError:
                raise
            except Exception:  # noqa: BLE001, S110 - tifffile cannot read it either: report Pillow's reason
                pass
        kind = fmt.upper()
        raise ImageReadError(name, f"truncated or corrupt {kind} file: {one_line(pil_exc)}") from None
