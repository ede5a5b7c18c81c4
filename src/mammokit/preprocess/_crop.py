"""Breast segmentation and crop: keep the breast, drop background, film labels and markers."""
from __future__ import annotations

import cv2
import numpy as np
from scipy import ndimage
from skimage.filters import threshold_otsu

# Segment on a small copy: the mask only has to find the breast, not its exact skin line.
_MASK_SIDE = 256


def _downsample(pixels: np.ndarray, side: int) -> tuple[np.ndarray, int]:
    """Block-average by an integer step (mirror-symmetric, unlike strided sampling)."""
    step = max(1, int(np.ceil(max(pixels.shape) / side)))
    if step == 1:
        return pixels, 1
    rows, cols = max(1, pixels.shape[0] // step), max(1, pixels.shape[1] // step)
    return cv2.resize(pixels[: rows * step, : cols * step], (cols, rows), interpolation=cv2.INTER_AREA), step


def breast_mask(pixels: np.ndarray) -> np.ndarray:
    """Boolean mask of the breast at full resolution.

    Otsu threshold on a downsampled image, an opening that cuts thin bridges to labels and
    film edges, then the largest connected component with its holes filled. Film labels
    and markers are separate, smaller bright blobs, so they fall outside the mask.
    """
    small, step = _downsample(pixels, _MASK_SIDE)
    if float(small.max() - small.min()) < 1e-6:
        return np.ones(pixels.shape, dtype=bool)
    # Otsu on the non-black part finds the tissue/background split even with a large black field.
    t = threshold_otsu(small)
    fg = small > min(t, 0.5 * t + 0.5 * float(np.percentile(small, 5)) + 0.02)
    fg = ndimage.binary_opening(fg, structure=np.ones((5, 5)), iterations=1)
    labels, n = ndimage.label(fg)
    if n == 0:
        return np.ones(pixels.shape, dtype=bool)
    sizes = ndimage.sum_labels(fg, labels, index=np.arange(1, n + 1))
    keep = labels == (int(np.argmax(sizes)) + 1)
    keep = ndimage.binary_fill_holes(keep)
    keep = ndimage.binary_dilation(keep, iterations=2)  # give back the skin line the opening ate
    full = np.repeat(np.repeat(keep, step, axis=0), step, axis=1)
    out = np.zeros(pixels.shape, dtype=bool)
    out[: full.shape[0], : full.shape[1]] = full[: pixels.shape[0], : pixels.shape[1]]
    return out


def crop_box(mask: np.ndarray, margin: int = 4) -> tuple[int, int, int, int]:
    """Half-open (row0, row1, col0, col1) bounding box of the mask, with a small margin."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return 0, mask.shape[0], 0, mask.shape[1]
    r0 = max(0, int(rows[0]) - margin)
    r1 = min(mask.shape[0], int(rows[-1]) + 1 + margin)
    c0 = max(0, int(cols[0]) - margin)
    c1 = min(mask.shape[1], int(cols[-1]) + 1 + margin)
    return r0, r1, c0, c1


def crop_breast(pixels: np.ndarray, mask: np.ndarray | None = None):
    """Return (cropped pixels with everything outside the breast set to 0, mask crop, box)."""
    if mask is None:
        mask = breast_mask(pixels)
    r0, r1, c0, c1 = crop_box(mask)
    m = mask[r0:r1, c0:c1]
    return np.where(m, pixels[r0:r1, c0:c1], 0.0).astype(np.float32), m, (r0, r1, c0, c1)


def faces_right(mask: np.ndarray) -> bool:
    """True when the chest wall is on the right, i.e. more breast mass in the right half."""
    half = mask.shape[1] // 2
    return int(mask[:, half:].sum()) > int(mask[:, :half].sum())
