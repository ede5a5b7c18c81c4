"""Fit one model on one set of training rows: the only place data meets the learners.

Order inside the training rows (nothing here ever sees a test row):
  1. hold out a calibration part (patient-grouped, stratified) when calibrating;
  2. for the dense head, hold out an early-stopping validation part from the rest;
  3. balance the remaining rows (AuditedSampler, raw features);
  4. fit the StandardScaler on those remaining REAL rows (AuditedScaler);
  5. fit the classifier on the scaled, balanced rows;
  6. fit prior correction + calibrator on the calibration part.
Every component that sees rows records them in the Audit.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sklearn.preprocessing import StandardScaler

from ..balance import Audit, AuditedSampler
from ..errors import DatasetError
from ..evaluate import Calibrator
from ._splits import grouped_holdout


class AuditedScaler(StandardScaler):
    """StandardScaler that records the rows it is fitted on."""

    def __init__(self, *, audit: Audit | None = None, context: str = ""):
        super().__init__()
        self.audit = audit
        self.context = context

    def fit(self, X, y=None, sample_weight=None):
        if self.audit is not None:
            self.audit.record(self.context, "scaler", X)
        return super().fit(X, y, sample_weight)


@dataclass
class FittedPipeline:
    """Scaler + classifier + calibrator fitted on one training set."""

    n_classes: int
    scaler: StandardScaler
    model: object
    calibrator: Calibrator
    info: dict = field(default_factory=dict)

    def proba_raw(self, X) -> np.ndarray:
        """The classifier's own probabilities (under the prior it was trained with)."""
        return np.asarray(self.model.predict_proba(self.scaler.transform(np.asarray(X, dtype=np.float32))))

    def predict_proba(self, X) -> np.ndarray:
        """Prior-corrected, calibrated probabilities."""
        return self.calibrator.transform(self.proba_raw(X))


def _freqs(y: np.ndarray, K: int) -> np.ndarray:
    return np.bincount(y, minlength=K).astype(np.float64) / max(len(y), 1)


def fit_pipeline(X, y, groups, *, n_classes: int, model_cfg: dict, balance: str, calibration_cfg: dict,
                 seed: int, audit: Audit | None = None, context: str = "") -> FittedPipeline:
    """Fit on training rows ``X, y`` (class indices), grouping inner splits by ``groups``."""
    # Imported here: training needs torch, predicting with a loaded FittedPipeline need not.
    from ..models import DenseHead, make_model

    X = np.asarray(X, dtype=np.float32)
    y = np.asarray(y, dtype=int)
    groups = np.asarray(groups)
    K = n_classes
    missing = sorted(set(range(K)) - set(np.unique(y).tolist()))
    if missing:
        raise DatasetError(f"training rows ({context or 'fit'}) lack class index(es) {missing}")
    method = calibration_cfg.get("method", "temperature")
    info: dict = {"n_train_rows": len(y)}

    fit_rows = np.arange(len(y))
    cal_rows = np.array([], dtype=int)
    if method != "none":
        keep, cal = grouped_holdout(y, groups, float(calibration_cfg.get("fraction", 0.2)), seed + 1)
        fit_rows, cal_rows = keep, cal
        if audit is not None:
            audit.record(context, "calibration", X[cal_rows])
    model = make_model(model_cfg, class_weight="balanced" if balance == "class_weight" else None, random_state=seed)
    val_rows = np.array([], dtype=int)
    core_rows = fit_rows
    if isinstance(model, DenseHead) and model.val_fraction > 0:
        keep, val = grouped_holdout(y[fit_rows], groups[fit_rows], model.val_fraction, seed + 2)
        core_rows, val_rows = fit_rows[keep], fit_rows[val]
        if audit is not None:
            audit.record(context, "early_stopping", X[val_rows])

    sampler = AuditedSampler(balance, random_state=seed, audit=audit, context=context)
    X_bal, y_bal = sampler.fit_resample(X[core_rows], y[core_rows])
    if getattr(sampler, "fallback_", None):  # ADASYN found no hard neighbourhood and SMOTE stood in
        info["balance_fallback"] = f"smote instead of adasyn: {sampler.fallback_}"
    scaler = AuditedScaler(audit=audit, context=context).fit(X[core_rows])
    if isinstance(model, DenseHead):
        model.fit(scaler.transform(X_bal), y_bal,
                  X_val=scaler.transform(X[val_rows]) if len(val_rows) else None,
                  y_val=y[val_rows] if len(val_rows) else None)
        info.update(epochs=model.n_epochs_, best_epoch=int(getattr(model, "best_epoch_", -1)))
    else:
        model.fit(scaler.transform(X_bal), y_bal)

    prior_real = _freqs(y, K)
    prior_fit = np.full(K, 1.0 / K) if balance == "class_weight" else _freqs(y_bal, K)
    calibrator = Calibrator(method, prior_fit=prior_fit, prior_real=prior_real,
                            prior_correction=bool(calibration_cfg.get("prior_correction", True)))
    pipe = FittedPipeline(K, scaler, model, calibrator, info)
    if len(cal_rows):
        calibrator.fit(pipe.proba_raw(X[cal_rows]), y[cal_rows])
    else:
        calibrator.fit(np.zeros((0, K)), np.zeros(0, dtype=int))
    info.update(n_core_rows=len(core_rows), n_balanced_rows=len(y_bal),
                n_synthetic_rows=int(len(y_bal) - len(core_rows)), n_val_rows=len(val_rows),
                n_calibration_rows=len(cal_rows), prior_fit=prior_fit.tolist(), prior_real=prior_real.tolist(),
                calibration=calibrator.to_dict())
    return pipe
