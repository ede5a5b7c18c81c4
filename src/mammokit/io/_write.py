"""write_png: save [0, 1] grey (or RGB) pixels as an 8-bit PNG, atomically."""
from __future__ import annotations

import os
import tempfile
from os import PathLike
from pathlib import Path

import numpy as np
from PIL import Image as PILImage


def to_uint8(array: np.ndarray) -> np.ndarray:
    """[0, 1] floats (clipped) -> uint8 0..255 with rounding; uint8 passes through unchanged."""
    arr = np.asarray(array)
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype.kind not in "fiub":
        raise ValueError(f"cannot write {arr.dtype} pixels as PNG")
    arr = arr.astype(np.float32, copy=False)
    if np.isnan(arr).any():
        raise ValueError("cannot write NaN pixels as PNG")
    return (np.clip(arr, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def write_png(path: str | PathLike, array01: np.ndarray) -> Path:
    """Write (rows, cols) grey or (rows, cols, 3|4) RGB(A) pixels in [0, 1] as an 8-bit PNG.

    Writes a temporary file beside the target and renames it, so readers never see half a file.
    """
    arr = to_uint8(array01)
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (3, 4))):
        raise ValueError(f"write_png expects (rows, cols) or (rows, cols, 3|4) pixels, got shape {arr.shape}")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            PILImage.fromarray(np.ascontiguousarray(arr)).save(fh, format="PNG")
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
