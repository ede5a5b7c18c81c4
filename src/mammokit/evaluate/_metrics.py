"""Classification metrics from scikit-learn, in the shape metrics.json stores them.

``y_true`` holds class indices 0..K-1 into ``classes``; ``proba`` is (n, K). The positive
class (malignant / abnormal) is the last class of the task, as in constants.TASKS.
"""
from __future__ import annotations

import warnings

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    balanced_accuracy_score,
    confusion_matrix,
    precision_recall_fscore_support,
    roc_auc_score,
)

# Scalar metrics that get a bootstrap CI, in display order.
SCALAR_METRICS = (
    "accuracy",
    "balanced_accuracy",
    "macro_precision",
    "macro_recall",
    "macro_f1",
    "macro_roc_auc",
    "macro_pr_auc",
    "sensitivity",
    "specificity",
)
PER_CLASS_METRICS = ("precision", "recall", "f1", "roc_auc", "pr_auc")


def _ovr_auc(y_bin: np.ndarray, score: np.ndarray, fn) -> float:
    if y_bin.min() == y_bin.max():  # only one class present: AUC undefined
        return float("nan")
    return float(fn(y_bin, score))


def scalar_metrics(y_true, proba, n_classes: int, positive: int | None = None) -> dict:
    """Every scalar metric plus per-class values and the confusion matrix (plain floats)."""
    y_true = np.asarray(y_true, dtype=int)
    proba = np.asarray(proba, dtype=np.float64)
    positive = n_classes - 1 if positive is None else positive
    labels = np.arange(n_classes)
    y_pred = proba.argmax(axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zero-division and single-class warnings: we return nan/0 instead
        prec, rec, f1, _ = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
        roc = np.array([_ovr_auc((y_true == k).astype(int), proba[:, k], roc_auc_score) for k in labels])
        pr = np.array([_ovr_auc((y_true == k).astype(int), proba[:, k], average_precision_score) for k in labels])
        bal = float(balanced_accuracy_score(y_true, y_pred))
    cm = confusion_matrix(y_true, y_pred, labels=labels)
    pos_true = y_true == positive
    pos_pred = y_pred == positive
    sens = float((pos_true & pos_pred).sum() / pos_true.sum()) if pos_true.any() else float("nan")
    spec = float((~pos_true & ~pos_pred).sum() / (~pos_true).sum()) if (~pos_true).any() else float("nan")
    if n_classes == 2:
        macro_roc = float(roc[1])  # binary ROC-AUC is symmetric: both one-vs-rest curves agree
    else:
        macro_roc = float(np.mean(roc)) if not np.isnan(roc).any() else float("nan")
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "balanced_accuracy": bal,
        "macro_precision": float(prec.mean()),
        "macro_recall": float(rec.mean()),
        "macro_f1": float(f1.mean()),
        "macro_roc_auc": macro_roc,
        "macro_pr_auc": float(np.mean(pr)) if not np.isnan(pr).any() else float("nan"),
        "sensitivity": sens,
        "specificity": spec,
        "per_class": {
            int(k): {"precision": float(prec[k]), "recall": float(rec[k]), "f1": float(f1[k]),
                     "roc_auc": float(roc[k]), "pr_auc": float(pr[k])}
            for k in labels
        },
        "confusion_matrix": cm.tolist(),
    }
