"""The Image type every reader returns."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class ImageMeta:
    path: str
    format: str  # "dicom", "pgm", "png", "jpeg", "tiff"
    bits_stored: int  # bit depth of the source samples (8, 12, 16, ...)
    laterality: str | None = None  # "L" / "R" when the file says so
    view: str | None = None  # "MLO", "CC", ... when the file says so
    patient_id: str | None = None  # only from DICOM; never written to the web database
    photometric: str | None = None  # DICOM photometric interpretation, if any
    extra: dict = field(default_factory=dict)


@dataclass
class Image:
    """Grey-level pixels as float32 in [0, 1], shape (rows, cols), plus metadata."""

    pixels: np.ndarray
    meta: ImageMeta

    @property
    def shape(self) -> tuple[int, int]:
        return self.pixels.shape  # type: ignore[return-value]

    @property
    def path(self) -> Path:
        return Path(self.meta.path)
