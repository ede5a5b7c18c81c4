"""95% percentile bootstrap confidence intervals that resample patients, not images.

All rows of a patient (both breasts, and in cross-validation every repeat's prediction
for them) go in or out of a bootstrap sample together, so the interval reflects how many
independent women the estimate rests on.
"""
from __future__ import annotations

import numpy as np

from ._fast import fast_metrics
from ._metrics import PER_CLASS_METRICS, SCALAR_METRICS


def patient_bootstrap_indices(groups, n_boot: int, seed: int):
    """Yield row-index arrays, each a resample (with replacement) of whole patients."""
    groups = np.asarray(groups)
    uniq, inv = np.unique(groups, return_inverse=True)
    rows_of = [np.flatnonzero(inv == g) for g in range(len(uniq))]
    rng = np.random.default_rng(seed)
    for _ in range(n_boot):
        picked = rng.integers(0, len(uniq), size=len(uniq))
        yield np.concatenate([rows_of[g] for g in picked])


def bootstrap_ci(y_true, proba, groups, n_classes: int, *, n_boot: int = 1000, seed: int = 0,
                 level: float = 0.95, positive: int | None = None) -> dict:
    """Percentile CIs: {metric: [lo, hi]} and {"per_class": {k: {metric: [lo, hi]}}}.

    Bootstrap samples where a metric is undefined (e.g. no malignant patient drawn) are
    left out of that metric's interval; an interval with no defined sample is [nan, nan].
    """
    y_true = np.asarray(y_true, dtype=int)
    proba = np.asarray(proba, dtype=np.float64)
    draws: dict[str, list[float]] = {m: [] for m in SCALAR_METRICS}
    pc_draws = {k: {m: [] for m in PER_CLASS_METRICS} for k in range(n_classes)}
    for idx in patient_bootstrap_indices(groups, n_boot, seed):
        m = fast_metrics(y_true[idx], proba[idx], n_classes, positive)
        for name in SCALAR_METRICS:
            draws[name].append(m[name])
        for k in range(n_classes):
            for name in PER_CLASS_METRICS:
                pc_draws[k][name].append(m["per_class"][k][name])
    lo_q, hi_q = 100 * (1 - level) / 2, 100 * (1 + level) / 2

    def interval(values: list[float]) -> list[float]:
        v = np.asarray(values, dtype=np.float64)
        v = v[~np.isnan(v)]
        if len(v) == 0:
            return [float("nan"), float("nan")]
        return [float(np.percentile(v, lo_q)), float(np.percentile(v, hi_q))]

    out = {name: interval(draws[name]) for name in SCALAR_METRICS}
    out["per_class"] = {k: {name: interval(pc_draws[k][name]) for name in PER_CLASS_METRICS}
                        for k in range(n_classes)}
    return out
