"""Cell grids -> heatmaps over the model's input view, peaks, and their place in the original image."""
from __future__ import annotations

import cv2
import numpy as np

from ...datasets import Record
from ...preprocess import Geometry


def resize_grid(grid: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of a cell grid covering the whole model input (cell centres stay aligned)."""
    grid = np.asarray(grid, np.float32)
    if grid.shape == tuple(shape):
        return grid
    return cv2.resize(grid, (int(shape[1]), int(shape[0])), interpolation=cv2.INTER_LINEAR)


def combine_scales(grids: list[np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    """Mean of the logit grids of several input sizes, on a common grid."""
    return np.mean([resize_grid(g, shape) for g in grids], axis=0)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -50, 50)))


def heatmap_view(logits: np.ndarray, mask: np.ndarray, size: int) -> np.ndarray:
    """Float [0, 1] (size, size) over the model's input view: the lesion probability of each cell,
    bilinearly upsampled, zero outside the breast."""
    prob = resize_grid(sigmoid(logits), (size, size))
    breast = resize_grid(np.asarray(mask, np.float32), (size, size)) >= 0.5
    return np.clip(np.where(breast, prob, 0.0), 0.0, 1.0).astype(np.float32)


def peak_cell(logits: np.ndarray, mask: np.ndarray) -> tuple[int, int]:
    """(row, column) of the highest cell inside the breast (anywhere if no cell is)."""
    m = np.asarray(mask, bool)
    g = np.where(m, logits, -np.inf) if m.any() else np.asarray(logits, np.float64)
    r, c = np.unravel_index(int(np.argmax(g)), g.shape)
    return int(r), int(c)


def cell_centre_model(cell: tuple[int, int], grid_shape: tuple[int, int], size: int) -> tuple[float, float]:
    """(x, y) in model-input pixels of a cell's centre."""
    r, c = cell
    return (c + 0.5) * size / grid_shape[1], (r + 0.5) * size / grid_shape[0]


def peak_original(logits: np.ndarray, mask: np.ndarray, geometry: Geometry) -> tuple[float, float]:
    """The heatmap's highest peak in ORIGINAL image pixels (x, y), top-left origin."""
    x, y = cell_centre_model(peak_cell(logits, mask), logits.shape, geometry.size)
    return geometry.to_original(x, y)


def localisation_hit(record: Record, point: tuple[float, float]) -> bool | None:
    """Does ``point`` (original pixels) fall inside one of the record's annotated lesion circles?
    None when the record has no located lesion (it is not scored)."""
    located = [les for les in record.lesions if les.has_location]
    if not located:
        return None
    x, y = point
    return any(np.hypot(x - les.x, y - les.y) <= float(les.radius or 0.0) for les in located)
