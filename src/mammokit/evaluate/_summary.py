"""Assemble the ``metrics`` / ``per_repeat`` / ``calibration`` parts of metrics.json."""
from __future__ import annotations

import numpy as np

from ._bootstrap import bootstrap_ci
from ._calibration import brier_score, expected_calibration_error, reliability_curve
from ._metrics import PER_CLASS_METRICS, SCALAR_METRICS, scalar_metrics


def _clean(v):
    """JSON has no NaN: undefined values become null."""
    if isinstance(v, float) and np.isnan(v):
        return None
    if isinstance(v, list):
        return [_clean(x) for x in v]
    return v


def summarize(y_true, proba, groups, classes, *, n_boot: int = 1000, seed: int = 0,
              repeats=None, level: float = 0.95) -> dict:
    """Headline metrics with patient-bootstrap CIs, in metrics.json's ``metrics`` shape.

    With ``repeats`` (cross-validation), the headline pools every repeat's out-of-fold
    predictions (each image appears once per repeat) and the bootstrap resamples patients
    with all their rows; per-repeat figures come from ``per_repeat_metrics``.
    """
    K = len(classes)
    point = scalar_metrics(y_true, proba, K)
    ci = bootstrap_ci(y_true, proba, groups, K, n_boot=n_boot, seed=seed, level=level) if n_boot else None
    out: dict = {}
    for name in SCALAR_METRICS:
        out[name] = {"value": _clean(point[name]), "ci": _clean(ci[name]) if ci else None}
    out["per_class"] = {
        classes[k]: {m: _clean(point["per_class"][k][m]) for m in PER_CLASS_METRICS} for k in range(K)
    }
    if ci:
        out["per_class_ci"] = {
            classes[k]: {m: _clean(ci["per_class"][k][m]) for m in PER_CLASS_METRICS} for k in range(K)
        }
    out["confusion_matrix"] = point["confusion_matrix"]
    out["bootstrap"] = {"n": int(n_boot), "seed": int(seed), "level": level, "unit": "patient",
                        "n_patients": len(np.unique(np.asarray(groups)))}
    return out


def per_repeat_metrics(y_true, proba, repeats, classes) -> list[dict]:
    """One row of scalar metrics per cross-validation repeat."""
    y_true, proba, repeats = np.asarray(y_true), np.asarray(proba), np.asarray(repeats)
    rows = []
    for r in np.unique(repeats):
        sel = repeats == r
        m = scalar_metrics(y_true[sel], proba[sel], len(classes))
        rows.append({"repeat": int(r), **{k: _clean(m[k]) for k in SCALAR_METRICS}})
    return rows


def mean_of_repeats(rows: list[dict]) -> dict:
    out = {}
    for k in SCALAR_METRICS:
        vals = [r[k] for r in rows if r.get(k) is not None]
        out[k] = float(np.mean(vals)) if vals else None
    return out


def calibration_report(y_true, proba_raw, proba_cal, method: str, n_bins: int = 10) -> dict:
    """Brier score and ECE before (raw model output) and after (prior-corrected + calibrated)."""
    return {
        "method": method,
        "before": {"brier": brier_score(y_true, proba_raw), "ece": expected_calibration_error(y_true, proba_raw, n_bins)},
        "after": {"brier": brier_score(y_true, proba_cal), "ece": expected_calibration_error(y_true, proba_cal, n_bins)},
        "reliability": {"before": reliability_curve(y_true, proba_raw, n_bins),
                        "after": reliability_curve(y_true, proba_cal, n_bins)},
        "n_bins": n_bins,
    }
