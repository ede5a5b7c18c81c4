"""Prior-shift correction and probability calibration, plus Brier score and ECE.

A model trained on rebalanced data (SMOTE, oversampling, class weights) estimates class
probabilities for the balanced training prior. Bayes' rule moves them to the real prior:
p_real(c|x) ∝ p_fit(c|x) · π_real(c) / π_fit(c), i.e. add b = log π_real − log π_fit to the
log-probabilities. A calibrator (temperature by default; Platt or isotonic) is then fitted on
a calibration part held out from the TRAINING rows. Parameters are plain numbers, stored as
JSON in the bundle (no pickle).
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from ..errors import ConfigError

CALIBRATION_METHODS = ("temperature", "platt", "isotonic", "none")
_EPS = 1e-12


def brier_score(y_true, proba) -> float:
    """Multi-class Brier score: mean over rows of sum over classes of (p - onehot)^2."""
    y_true = np.asarray(y_true, dtype=int)
    proba = np.asarray(proba, dtype=np.float64)
    onehot = np.eye(proba.shape[1])[y_true]
    return float(np.mean(np.sum((proba - onehot) ** 2, axis=1)))


def _top_label_bins(y_true, proba, n_bins: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top-label confidence, whether it is right (0/1), and its equal-width bin (confidence 1.0 in the last)."""
    y_true = np.asarray(y_true, dtype=int)
    proba = np.asarray(proba, dtype=np.float64)
    conf = proba.max(axis=1)
    correct = (proba.argmax(axis=1) == y_true).astype(np.float64)
    bins = np.minimum((conf * n_bins).astype(int), n_bins - 1)
    return conf, correct, bins


def expected_calibration_error(y_true, proba, n_bins: int = 10) -> float:
    """Top-label ECE with equal-width confidence bins: sum_b |B|/n · |accuracy_b − confidence_b|."""
    conf, correct, bins = _top_label_bins(y_true, proba, n_bins)
    ece = 0.0
    for b in range(n_bins):
        sel = bins == b
        if sel.any():
            ece += sel.mean() * abs(correct[sel].mean() - conf[sel].mean())
    return float(ece)


def reliability_curve(y_true, proba, n_bins: int = 10) -> dict:
    """Per-bin mean confidence, accuracy and count (top label), for the reliability diagram."""
    conf, correct, bins = _top_label_bins(y_true, proba, n_bins)
    out = {"confidence": [], "accuracy": [], "count": []}
    for b in range(n_bins):
        sel = bins == b
        out["count"].append(int(sel.sum()))
        out["confidence"].append(float(conf[sel].mean()) if sel.any() else None)
        out["accuracy"].append(float(correct[sel].mean()) if sel.any() else None)
    return out


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class Calibrator:
    """Prior correction followed by temperature / Platt / isotonic calibration.

    ``prior_fit``: class frequencies the model was trained under (after resampling or
    re-weighting); ``prior_real``: class frequencies of the real training rows.
    """

    def __init__(self, method: str = "temperature", prior_fit=None, prior_real=None, prior_correction: bool = True):
        if method not in CALIBRATION_METHODS:
            raise ConfigError(
                f"calibration.method: unknown method {method!r}; choose one of {', '.join(CALIBRATION_METHODS)}"
            )
        self.method = method
        self.prior_fit = None if prior_fit is None else np.asarray(prior_fit, dtype=np.float64)
        self.prior_real = None if prior_real is None else np.asarray(prior_real, dtype=np.float64)
        self.prior_correction = prior_correction
        self.params: dict = {}

    # -- the fixed prior correction -------------------------------------------------
    @property
    def log_prior_ratio(self) -> np.ndarray | None:
        if not self.prior_correction or self.prior_fit is None or self.prior_real is None:
            return None
        return np.log(np.maximum(self.prior_real, _EPS)) - np.log(np.maximum(self.prior_fit, _EPS))

    def _corrected_logits(self, proba: np.ndarray) -> np.ndarray:
        z = np.log(np.clip(np.asarray(proba, dtype=np.float64), _EPS, 1.0))
        b = self.log_prior_ratio
        return z if b is None else z + b

    def prior_corrected(self, proba) -> np.ndarray:
        return _softmax(self._corrected_logits(proba))

    # -- fitting ----------------------------------------------------------------------
    def fit(self, proba, y_true) -> Calibrator:
        """Fit the calibration map on held-out TRAINING rows (raw model probabilities)."""
        y_true = np.asarray(y_true, dtype=int)
        proba = np.asarray(proba, dtype=np.float64)
        K = proba.shape[1]
        present = np.unique(y_true)
        method = self.method
        if method in ("platt", "isotonic") and len(present) < K:
            method = "temperature"  # too few classes in the calibration part for a per-class map
            self.params["fallback"] = f"{self.method} needs every class in the calibration part"
        self.fitted_method = method
        if method == "none" or len(y_true) == 0:
            self.fitted_method = "none"
            return self
        z = self._corrected_logits(proba)
        if method == "temperature":
            # Only the model's own scores are scaled; the prior correction b is added afterwards.
            z0 = np.log(np.clip(proba, _EPS, 1.0))
            b = self.log_prior_ratio if self.log_prior_ratio is not None else np.zeros(K)

            def nll(log_t: float) -> float:
                p = _softmax(z0 / np.exp(log_t) + b)
                return -float(np.mean(np.log(np.clip(p[np.arange(len(y_true)), y_true], _EPS, 1.0))))

            res = minimize_scalar(nll, bounds=(np.log(0.05), np.log(20.0)), method="bounded")
            self.params["temperature"] = float(np.exp(res.x))
        elif method == "platt":
            feats = z - z[:, :1]  # logits relative to class 0 (removes the free constant)
            lr = LogisticRegression(C=1e4, max_iter=5000)
            lr.fit(feats[:, 1:], y_true)
            self.params["coef"] = np.atleast_2d(lr.coef_).tolist()
            self.params["intercept"] = np.atleast_1d(lr.intercept_).tolist()
        elif method == "isotonic":
            p = _softmax(z)
            self.params["curves"] = []
            for k in range(K):
                iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
                iso.fit(p[:, k], (y_true == k).astype(np.float64))
                self.params["curves"].append(
                    {"x": iso.X_thresholds_.tolist(), "y": iso.y_thresholds_.tolist()}
                )
        return self

    def transform(self, proba) -> np.ndarray:
        """Calibrated, real-prior probabilities."""
        proba = np.asarray(proba, dtype=np.float64)
        method = getattr(self, "fitted_method", "none")
        z = self._corrected_logits(proba)
        if method == "none":
            return _softmax(z)
        if method == "temperature":
            z0 = np.log(np.clip(proba, _EPS, 1.0))
            b = self.log_prior_ratio if self.log_prior_ratio is not None else 0.0
            return _softmax(z0 / self.params["temperature"] + b)
        if method == "platt":
            feats = (z - z[:, :1])[:, 1:]
            coef = np.asarray(self.params["coef"])
            intercept = np.asarray(self.params["intercept"])
            s = feats @ coef.T + intercept
            if s.shape[1] == 1:  # binary LogisticRegression: one score for class 1
                s = np.hstack([np.zeros_like(s), s])
            return _softmax(s)
        p = _softmax(z)
        cols = [np.interp(p[:, k], c["x"], c["y"]) for k, c in enumerate(self.params["curves"])]
        q = np.stack(cols, axis=1)
        s = q.sum(axis=1, keepdims=True)
        # rows the isotonic maps send to all-zero fall back to the prior-corrected probabilities
        return np.where(s > _EPS, q / np.maximum(s, _EPS), p)

    # -- persistence ------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "method": self.method,
            "fitted_method": getattr(self, "fitted_method", "none"),
            "prior_correction": self.prior_correction,
            "prior_fit": None if self.prior_fit is None else self.prior_fit.tolist(),
            "prior_real": None if self.prior_real is None else self.prior_real.tolist(),
            "params": self.params,
        }

    @classmethod
    def from_dict(cls, d: dict) -> Calibrator:
        c = cls(d["method"], d.get("prior_fit"), d.get("prior_real"), d.get("prior_correction", True))
        c.params = dict(d.get("params", {}))
        c.fitted_method = d.get("fitted_method", "none")
        return c
