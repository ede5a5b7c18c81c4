"""Which cells are lesion, which are normal tissue: the patch data set, from TRAINING records only.

A cell is a lesion patch when its centre lies inside an annotated lesion circle (the cell holding the
lesion centre always counts, so tiny calcifications still give one patch); it is a normal-tissue patch
when it lies inside the breast and clear of every lesion by a margin. Cells in the margin ring, cells
mostly outside the breast, and every non-lesion cell of an abnormal image whose lesion has no
coordinates (widely spread calcifications) are ignored. Several input sizes give lesion patches at
several scales; normal patches of normal images double as the pool for hard-negative mining.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ...constants import MALIGNANT, NORMAL
from ...datasets import Record
from ...errors import DatasetError
from ...features import CellMaps, ScaleMap

POSITIVE, NEGATIVE, IGNORE = 1, 0, -1


@dataclass(frozen=True)
class Circle:
    """A lesion in model-input pixels."""

    x: float
    y: float
    r: float
    malignant: bool


def lesion_circles(record: Record, scale_map: ScaleMap) -> list[Circle]:
    """The record's located lesions mapped into this scale's model-input pixels."""
    g = scale_map.geometry
    out = []
    for les in record.lesions:
        if not les.has_location:
            continue
        x, y = g.to_model(les.x, les.y)
        out.append(Circle(x, y, float(les.radius or 0.0) * g.scale, les.severity == MALIGNANT))
    return out


def label_cells(record: Record, scale_map: ScaleMap, *, min_breast: float = 0.5,
                margin_cells: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(labels, malignant) grids (h, w): labels in {POSITIVE, NEGATIVE, IGNORE}; malignant marks lesion cells
    of a malignant lesion (a cell in a benign and a malignant circle counts as malignant)."""
    h, w = scale_map.features.shape[-2:]
    labels = np.full((h, w), IGNORE, np.int8)
    malignant = np.zeros((h, w), bool)
    breast = scale_map.mask >= min_breast
    unlocated = any(not les.has_location for les in record.lesions)
    circles = lesion_circles(record, scale_map)
    if not record.lesions:
        if record.label != NORMAL:
            raise DatasetError(f"{record.path}: label {record.label!r} but no lesion annotation; cannot sample patches")
        labels[breast] = NEGATIVE
        return labels, malignant
    xs, ys = scale_map.cell_centres()
    stride = scale_map.stride
    near = np.zeros((h, w), bool)
    for c in circles:
        d = np.hypot(xs - c.x, ys - c.y)
        inside = d <= max(c.r, 0.5 * stride)
        ci, cj = int(np.clip(c.y // stride, 0, h - 1)), int(np.clip(c.x // stride, 0, w - 1))
        inside[ci, cj] = True  # the cell holding the centre
        labels[inside] = POSITIVE
        if c.malignant:
            malignant[inside] = True
        near |= d <= c.r + margin_cells * stride
    if not unlocated:
        labels[breast & ~near & (labels != POSITIVE)] = NEGATIVE
    return labels, malignant


@dataclass
class CellSet:
    """Sampled training cells of one input size."""

    X: np.ndarray  # (n, C) float32
    y: np.ndarray  # (n,) 1 lesion, 0 normal tissue
    malignant: np.ndarray  # (n,) bool, meaningful where y == 1
    image: np.ndarray  # (n,) position of the source record in the list given to the sampler
    cell: np.ndarray  # (n, 2) row, column of the cell


def training_cells(records: Sequence[Record], maps: Sequence[CellMaps], train_index: Sequence[int], size: int, *,
                   negatives_per_image: int = 24, seed: int = 0, min_breast: float = 0.5,
                   margin_cells: float = 1.0) -> tuple[CellSet, dict[int, np.ndarray]]:
    """Every lesion cell and a random sample of normal-tissue cells of the training images only.

    Only ``records[i]`` for ``i`` in ``train_index`` is ever read, so a test image's annotation cannot
    reach training. Also returns, per training image, the label grid (for hard-negative mining).
    """
    rng = np.random.default_rng(seed)
    Xs, ys, mal, img, cells = [], [], [], [], []
    grids: dict[int, np.ndarray] = {}
    for i in sorted({int(i) for i in train_index}):
        sm = maps[i].scales[size]
        labels, malignant = label_cells(records[i], sm, min_breast=min_breast, margin_cells=margin_cells)
        grids[i] = labels
        pos = np.argwhere(labels == POSITIVE)
        neg = np.argwhere(labels == NEGATIVE)
        if len(neg) > negatives_per_image:
            neg = neg[rng.choice(len(neg), negatives_per_image, replace=False)]
        for rows, lab in ((pos, 1), (neg, 0)):
            if not len(rows):
                continue
            Xs.append(sm.cells(rows[:, 0] * labels.shape[1] + rows[:, 1]))
            ys.append(np.full(len(rows), lab, np.int8))
            mal.append(malignant[rows[:, 0], rows[:, 1]] if lab else np.zeros(len(rows), bool))
            img.append(np.full(len(rows), i))
            cells.append(rows)
    if not ys or not any((y == 1).any() for y in ys) or not any((y == 0).any() for y in ys):
        raise DatasetError("lesion model: the training images give no lesion cells or no normal-tissue cells")
    return CellSet(np.concatenate(Xs), np.concatenate(ys), np.concatenate(mal), np.concatenate(img),
                   np.concatenate(cells)), grids
