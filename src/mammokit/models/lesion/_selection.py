"""Inner-CV model selection, on the training images only: out-of-fold heatmaps from cell models that did not
see each image (inner patient-grouped folds), then which input sizes, heatmap smoothing, aggregator inputs and
aggregator kind to use, each candidate scored by a patient-grouped CV of the aggregator on those heatmaps."""
from __future__ import annotations

import itertools
import warnings
from collections.abc import Sequence

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from ...datasets import Record
from ...features import CellMaps
from ._aggregate import IMAGE_FEATURES
from ._aggregator import feature_matrix, fit_aggregator
from ._cells import CellModels
from ._settings import LesionSettings

# Candidate aggregator inputs for aggregation "auto", simplest first (ties keep the simpler set).
FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "max": ("abn_max", "mal_at_top"),
    "max_topk": ("abn_max", "abn_topk", "mal_at_top", "mal_max"),
    "all": IMAGE_FEATURES,
}
_FIXED = {"max": ("abn_max", "mal_at_top"), "topk_mean": ("abn_topk", "mal_at_top"), "mean": ("abn_mean", "mal_at_top")}


def candidates(s: LesionSettings) -> list[tuple[tuple[int, ...], int]]:
    """(input sizes, smoothing) pairs to score: every size combination x smoothing none or 3 x 3 cells with
    aggregation "auto" (chosen on the training images), else the configured one only."""
    if s.aggregation != "auto":
        return [(tuple(s.sizes), s.smooth)]
    sizes = [tuple(c) for r in range(1, len(s.sizes) + 1) for c in itertools.combinations(s.sizes, r)]
    return [(c, sm) for c in sizes for sm in sorted({0, 3, s.smooth})]


def out_of_fold_grids(records: Sequence[Record], maps: Sequence[CellMaps], train: np.ndarray, y: np.ndarray,
                      groups: np.ndarray, s: LesionSettings, seed: int, bases: dict,
                      combos: Sequence[tuple[tuple[int, ...], int]]) -> tuple[dict, list[CellModels]]:
    """Per candidate: (abnormal logits, malignant logits, breast mask) grids of the training images, each made by
    inner-fold cell models that did not see the image; and those inner-fold cell models."""
    oof = {}
    for c, sm in combos:
        h, w = maps[0].scales[max(c)].features.shape[-2:]
        oof[c, sm] = (np.zeros((len(train), h, w)), np.zeros((len(train), h, w)), np.zeros((len(train), h, w)))
    inner = StratifiedGroupKFold(n_splits=s.inner_folds, shuffle=True, random_state=seed + 7)
    with warnings.catch_warnings():  # "least populated class has fewer members": tiny classes, not an error
        warnings.simplefilter("ignore", UserWarning)
        inner_splits = list(inner.split(np.zeros(len(train)), y, groups))
    inner_models = []
    for tr, va in inner_splits:
        cm = CellModels.fit(records, maps, train[tr], s, seed, bases=bases)
        va_maps = [maps[i] for i in train[va]]
        per_size = cm.size_logits(va_maps)
        for c, sm in combos:
            a, m, k = cm.grids(va_maps, sm, c, per_size)
            oof[c, sm][0][va], oof[c, sm][1][va], oof[c, sm][2][va] = a, m, k
        inner_models.append(cm)
    return oof, inner_models


def select(oof: dict, combos: Sequence[tuple[tuple[int, ...], int]], pairs: Sequence[int | None], y: np.ndarray,
           groups: np.ndarray, s: LesionSettings, seed: int) -> tuple[tuple, dict]:
    """The best candidate (sizes, smoothing, aggregator inputs, aggregator kind, inner AUC) and the inner-CV
    score of every candidate (strict JSON: an unscored candidate's AUC is None, not NaN)."""
    best = None
    selection = {}
    for c, sm in combos:
        names, kind, auc = choose_features(*oof[c, sm], pairs, y, groups, s, seed)
        key = "+".join(map(str, c)) + (f"/smooth{sm}" if s.aggregation == "auto" else "")
        selection[key] = {"features": list(names), "aggregator": kind,
                          "inner_auc": float(auc) if np.isfinite(auc) else None}
        if best is None or auc > best[4] + 1e-9:
            best = (c, sm, names, kind, auc)
    return best, selection


def choose_features(A, M, K, pairs, y, groups, s: LesionSettings, seed: int) -> tuple[tuple[str, ...], str, float]:
    """The aggregator's inputs and kind. "auto" scores each candidate (feature set x kind) by a patient-grouped CV
    of the aggregator on the training images' out-of-fold heatmap features (3-class macro ROC-AUC) and keeps the
    best: test images play no part in the choice."""
    if s.aggregation in _FIXED:
        return _FIXED[s.aggregation], s.aggregator, float("nan")
    if s.aggregation != "auto":
        return tuple(s.image_features), s.aggregator, float("nan")
    from sklearn.metrics import roc_auc_score

    full = feature_matrix(A, M, K, pairs, s, IMAGE_FEATURES)
    cv = StratifiedGroupKFold(n_splits=5, shuffle=True, random_state=seed + 11)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        splits = list(cv.split(np.zeros(len(y)), y, groups))
    best, best_auc = (tuple(s.image_features), s.aggregator), -1.0
    for kind in ("hierarchical", "multinomial"):
        for names in FEATURE_SETS.values():
            cols = [IMAGE_FEATURES.index(f) for f in names]
            P = np.zeros((len(y), 3))
            for tr, va in splits:
                agg = fit_aggregator(full[tr][:, cols], y[tr], names, kind, s.aggregator_C)
                P[va] = agg.predict_proba(full[va][:, cols])
            try:
                auc = roc_auc_score(y, P, multi_class="ovr", average="macro", labels=[0, 1, 2])
            except ValueError:
                auc = 0.0
            if auc > best_auc + 1e-9:
                best, best_auc = (tuple(names), kind), auc
    return (*best, best_auc)
