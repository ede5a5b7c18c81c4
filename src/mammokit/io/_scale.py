"""Integer samples -> float32 in [0, 1], the same arithmetic for every format.

One helper so that the same 8-bit image read from PGM and from PNG gives bit-identical floats.
"""
from __future__ import annotations

import numpy as np


def to_unit(samples: np.ndarray, maxval: float) -> np.ndarray:
    """samples / maxval as float32 (division, not reciprocal multiply, so maxval maps to exactly 1.0)."""
    # one pass: each sample is cast to float32 and divided, exactly as astype() then /= did in two
    return np.divide(samples, np.float32(maxval), dtype=np.float32)
