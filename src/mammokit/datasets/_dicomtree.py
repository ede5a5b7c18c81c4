"""Helpers the public-dataset adapters share: DICOM headers, DICOM trees, masks, sides and views."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
from pydicom.errors import InvalidDicomError

from ..errors import DatasetError, ImageReadError
from ..io import read_image

DICOM_SUFFIXES = (".dcm", ".dicom")
_SIDES = {"l": "L", "left": "L", "r": "R", "right": "R"}


def dicom_files(folder: Path) -> list[Path]:
    """Every DICOM file below ``folder``, sorted, hidden files skipped."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in DICOM_SUFFIXES
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def dicom_header(path: Path) -> pydicom.Dataset:
    """The header only (no pixel data decoded); a file that is not DICOM names itself."""
    try:
        return pydicom.dcmread(path, stop_before_pixels=True)
    except (InvalidDicomError, OSError, ValueError, EOFError) as exc:
        raise DatasetError(f"{path}: not a readable DICOM file ({exc})") from None


def side(text: str) -> str | None:
    """L/R from L, R, LEFT, RIGHT (any case); None for anything else."""
    return _SIDES.get(str(text).strip().lower())


def mask_box(path: Path) -> tuple[tuple[float, float, float, float], tuple[int, int]] | None:
    """(box, shape) of the foreground of a binary mask image, or None when it is not binary.

    box is (xmin, ymin, xmax, ymax) in pixels, top-left origin, max exclusive.
    """
    try:
        pixels = read_image(path).pixels
    except ImageReadError as exc:
        raise DatasetError(str(exc)) from None
    values = np.unique(pixels[:: max(1, pixels.shape[0] // 512), :: max(1, pixels.shape[1] // 512)])
    if values.size > 2:  # a cropped lesion image, not a mask (CBIS-DDSM rows sometimes swap the two)
        return None
    fg = pixels > 0.5
    if not fg.any():
        raise DatasetError(f"{path}: mask is empty (no foreground pixel)")
    rows, cols = np.flatnonzero(fg.any(axis=1)), np.flatnonzero(fg.any(axis=0))
    box = (float(cols[0]), float(rows[0]), float(cols[-1] + 1), float(rows[-1] + 1))
    return box, (int(pixels.shape[0]), int(pixels.shape[1]))
