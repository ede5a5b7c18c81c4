"""From a cell heatmap to image-level evidence: max, top-k mean, and the features a small learned
aggregator combines (fitted on training folds only, on out-of-fold heatmaps)."""
from __future__ import annotations

import numpy as np

from ...errors import ConfigError

AGGREGATIONS = ("max", "topk_mean", "mean", "learned", "auto")
IMAGE_FEATURES = (
    "abn_max", "abn_topk", "abn_mean", "mal_at_top", "mal_max", "abn_max_vs_pair", "abn_topk_vs_pair",
)


def _breast_values(grid: np.ndarray, mask: np.ndarray) -> np.ndarray:
    v = np.asarray(grid, np.float64)[np.asarray(mask, bool)]
    if v.size == 0:  # no cell inside the breast (a blank image): fall back to the whole grid
        v = np.asarray(grid, np.float64).ravel()
    return v


def max_score(grid: np.ndarray, mask: np.ndarray) -> float:
    """Highest cell score inside the breast."""
    return float(_breast_values(grid, mask).max())


def topk_mean(grid: np.ndarray, mask: np.ndarray, k: int = 3) -> float:
    """Mean of the k highest cell scores inside the breast (all of them when fewer than k)."""
    if k < 1:
        raise ConfigError(f"lesion.top_k must be at least 1, got {k}")
    v = np.sort(_breast_values(grid, mask))[::-1]
    return float(v[: min(k, v.size)].mean())


def mean_score(grid: np.ndarray, mask: np.ndarray) -> float:
    return float(_breast_values(grid, mask).mean())


def aggregate(grid: np.ndarray, mask: np.ndarray, how: str, k: int = 3) -> float:
    """One fixed (untrained) image score from a heatmap."""
    if how == "max":
        return max_score(grid, mask)
    if how == "topk_mean":
        return topk_mean(grid, mask, k)
    if how == "mean":
        return mean_score(grid, mask)
    raise ConfigError(f"lesion.aggregation: {how!r} is not a fixed aggregation; choose max, topk_mean or mean")


def image_features(abn: np.ndarray, mal: np.ndarray, mask: np.ndarray, k: int = 3,
                   pair: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """The aggregator's inputs for one image (order: IMAGE_FEATURES).

    ``abn``/``mal`` are cell logit grids (lesion vs normal tissue; malignant vs benign lesion).
    ``pair`` is the other breast's (abn, mask): the difference to it cancels what both breasts of a
    woman share (density, film, scanner); zero when there is no pair.
    """
    m = np.asarray(mask, bool)
    vals = _breast_values(abn, m)
    top = np.argsort(np.where(m, abn, -np.inf).ravel())[::-1][: min(k, max(1, int(m.sum())))]
    amax, atop = max_score(abn, m), topk_mean(abn, m, k)
    if pair is not None:
        pmax, ptop = max_score(pair[0], pair[1]), topk_mean(pair[0], pair[1], k)
        dmax, dtop = amax - pmax, atop - ptop
    else:
        dmax = dtop = 0.0
    return np.asarray([amax, atop, float(vals.mean()), float(np.asarray(mal, np.float64).ravel()[top].mean()),
                       max_score(mal, m), dmax, dtop], np.float64)
