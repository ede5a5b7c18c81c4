"""What a bundle has shown it can do, and the class prevalence it was calibrated at.

Written into manifest.json by ``save_bundle`` (and the lesion bundle), read by ``model_evidence`` for the
web app, ``mammokit predict`` and the model card:

``discrimination``  {name: {"auc": v, "ci": [lo, hi]}}: measured ROC AUC with its patient-bootstrap CI,
                    one entry per task the run measured (its own task, e.g. "3class" = macro one-vs-rest
                    AUC) and "malignant_vs_rest" (P(malignant) ranking) where the model has that class;
                    the lesion run also records "normal_vs_abnormal" and "benign_vs_malignant".
``near_constant``   {"value": bool, "spread": s, "threshold": t, "measure": ...}: whether the out-of-fold
                    probabilities barely move from image to image (a model that outputs its class prior).
``prevalence``      {"training": {class: fraction}, "source": ...}: the class frequencies the calibrated
                    probabilities refer to.

A model has *earned* a BI-RADS suggestion only when every relevant AUC's lower CI bound is above 0.5 (its
task's, malignant vs rest, and benign vs malignant where that was measured: a category above 3 claims a
finding looks malignant rather than benign, which a model at chance on benign vs malignant cannot tell),
its predictions are not near-constant and it was not measured by a leaky protocol. A bundle that lacks
these fields (made before they were recorded) has not.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..constants import BENIGN, MALIGNANT

# Out-of-fold probabilities whose within-fold standard deviation stays below this (for every class)
# are near-constant: the model gives (almost) every image the same answer.
NEAR_CONSTANT_SPREAD = 0.02
MALIGNANT_VS_REST = "malignant_vs_rest"
BENIGN_VS_MALIGNANT = "benign_vs_malignant"
CHANCE_AUC = 0.5


def _num(v) -> float | None:
    if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v)):
        return float(v)
    return None


def _entry(value, ci) -> dict:
    lo, hi = (ci or [None, None])[:2] if isinstance(ci, (list, tuple)) and len(ci) >= 2 else (None, None)
    return {"auc": _num(value), "ci": [_num(lo), _num(hi)]}


def discrimination_from_summary(summary: dict, task: str, classes) -> dict:
    """The ``discrimination`` block from metrics.json's ``metrics`` part (``evaluate.summarize`` output)."""
    out = {task: _entry((summary.get("macro_roc_auc") or {}).get("value"),
                        (summary.get("macro_roc_auc") or {}).get("ci"))}
    if MALIGNANT in classes and len(classes) > 2:
        point = (summary.get("per_class") or {}).get(MALIGNANT, {}).get("roc_auc")
        ci = (summary.get("per_class_ci") or {}).get(MALIGNANT, {}).get("roc_auc")
        out[MALIGNANT_VS_REST] = _entry(point, ci)
    return out


def near_constant_from(proba, folds=None, threshold: float = NEAR_CONSTANT_SPREAD) -> dict:
    """Spread of out-of-fold probabilities: for each class the standard deviation within each fold
    (so fold-to-fold shifts of a constant answer do not count as spread), averaged over folds;
    the largest over classes. Near-constant when that is below ``threshold``."""
    P = np.asarray(proba, dtype=np.float64)
    groups = np.zeros(len(P), dtype=int) if folds is None else np.asarray(folds)
    stds = [P[groups == g].std(axis=0) for g in np.unique(groups) if (groups == g).sum() > 1]
    spread = float(np.max(np.mean(stds, axis=0))) if stds else 0.0
    return {"value": bool(spread < threshold), "spread": round(spread, 6), "threshold": threshold,
            "measure": "largest over classes of the within-fold standard deviation of the out-of-fold "
                       "probability, averaged over folds"}


def prevalence_block(classes, fractions, source: str) -> dict:
    f = np.asarray(fractions, dtype=np.float64)
    f = f / f.sum()
    return {"training": {str(c): round(float(v), 6) for c, v in zip(classes, f)}, "source": source}


@dataclass
class ModelEvidence:
    """Read from a manifest: may this model suggest a BI-RADS category, and if not, why not."""

    earned: bool
    reasons: list[str]  # why it has not (empty when earned)
    relevant: dict[str, dict]  # the discrimination entries the decision used
    near_constant: dict | None
    training_prevalence: dict[str, float] | None
    positive_class: str | None
    notes: list[str] = field(default_factory=list)

    @property
    def warning(self) -> str | None:
        if self.earned:
            return None
        return ("This model has not shown it can separate the classes, so it gives no BI-RADS category: "
                + "; ".join(self.reasons) + ".")

    def as_dict(self) -> dict:
        return {"earned": self.earned, "reasons": list(self.reasons), "relevant_auc": self.relevant,
                "near_constant": self.near_constant, "training_prevalence": self.training_prevalence,
                "warning": self.warning}


def _auc_text(name: str, e: dict) -> str:
    lo, hi = e["ci"]
    ci = f" (95% CI {lo:.2f}-{hi:.2f})" if lo is not None and hi is not None else " (no CI)"
    return f"{name} ROC AUC {e['auc']:.2f}{ci}" if e["auc"] is not None else f"{name} ROC AUC not measured"


def model_evidence(manifest: dict, calibrator_prior: dict[str, float] | None = None) -> ModelEvidence:
    """Whether ``manifest``'s model has earned a BI-RADS suggestion; ``calibrator_prior`` is the training
    prevalence to fall back on for bundles that predate the ``prevalence`` field."""
    m = manifest or {}
    classes = list(m.get("classes") or [])
    task = str(m.get("task") or "")
    reasons: list[str] = []
    disc = m.get("discrimination")
    relevant: dict[str, dict] = {}
    if not isinstance(disc, dict) or not disc:
        reasons.append("the bundle records no measured discrimination (it predates that record; "
                       "re-run `mammokit run` to make a new bundle)")
    else:
        names = [task] if task in disc else []
        if MALIGNANT in classes and MALIGNANT_VS_REST in disc:
            names.append(MALIGNANT_VS_REST)
        if BENIGN in classes and MALIGNANT in classes and BENIGN_VS_MALIGNANT in disc and task != BENIGN_VS_MALIGNANT:
            names.append(BENIGN_VS_MALIGNANT)
        if not names:
            reasons.append(f"the bundle records no discrimination for its task {task!r}")
        for name in names:
            e = _entry((disc[name] or {}).get("auc"), (disc[name] or {}).get("ci"))
            relevant[name] = e
            lo = e["ci"][0]
            if lo is None:
                reasons.append(f"{_auc_text(name, e)}: no confidence interval was measured")
            elif lo <= CHANCE_AUC:
                reasons.append(f"{_auc_text(name, e)}: the lower bound is at or below 0.5 (chance)")
    nc = m.get("near_constant")
    if isinstance(nc, bool):
        nc = {"value": nc}
    if not isinstance(nc, dict) or "value" not in nc:
        reasons.append("the bundle records no check of its out-of-fold predictions for near-constancy")
        nc = None
    elif nc["value"]:
        spread = _num(nc.get("spread"))
        reasons.append("its out-of-fold predictions are near-constant"
                       + (f" (spread {spread:.4f} < {nc.get('threshold')})" if spread is not None else ""))
    if (m.get("metrics") or {}).get("leaky"):
        reasons.append("it was measured by a protocol that leaks patients between training and test")
    prev = (m.get("prevalence") or {}).get("training") if isinstance(m.get("prevalence"), dict) else None
    notes = []
    if not prev and calibrator_prior:
        prev = dict(calibrator_prior)
        notes.append("training prevalence taken from the calibrator (the manifest does not record it)")
    return ModelEvidence(not reasons, reasons, relevant, nc, prev, m.get("positive_class"), notes)
