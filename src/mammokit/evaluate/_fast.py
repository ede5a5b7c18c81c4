"""Vectorised twins of the scikit-learn metrics, for the bootstrap loop only.

A 1000-sample bootstrap calls every metric 1000 times; scikit-learn's input validation
makes that ~50 ms per sample. These compute the same quantities from the confusion
matrix, ranks (ROC-AUC, Mann-Whitney with average ranks for ties, as scikit-learn) and
the step-wise precision-recall sum (average precision, as scikit-learn). Point estimates
always come from scikit-learn (``_metrics.scalar_metrics``); tests check the twins agree.
"""
from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

NAN = float("nan")


def _roc_auc(y_bin: np.ndarray, score: np.ndarray) -> float:
    P = int(y_bin.sum())
    N = len(y_bin) - P
    if P == 0 or N == 0:
        return NAN
    ranks = rankdata(score)
    return float((ranks[y_bin].sum() - P * (P + 1) / 2) / (P * N))


def _average_precision(y_bin: np.ndarray, score: np.ndarray) -> float:
    if not y_bin.any() or y_bin.all():
        return NAN
    order = np.argsort(-score, kind="mergesort")
    s, yy = score[order], y_bin[order]
    last_of_group = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    tp = np.cumsum(yy)[last_of_group]
    fp = last_of_group + 1 - tp
    precision = tp / (tp + fp)
    recall = tp / tp[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def fast_metrics(y_true: np.ndarray, proba: np.ndarray, n_classes: int, positive: int | None = None) -> dict:
    """Same keys and values as ``scalar_metrics`` (without the confusion-matrix list)."""
    positive = n_classes - 1 if positive is None else positive
    y_pred = proba.argmax(axis=1)
    cm = np.bincount(y_true * n_classes + y_pred, minlength=n_classes * n_classes).reshape(n_classes, n_classes)
    tp = np.diag(cm).astype(np.float64)
    support = cm.sum(axis=1).astype(np.float64)
    predicted = cm.sum(axis=0).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        prec = np.where(predicted > 0, tp / predicted, 0.0)
        rec = np.where(support > 0, tp / support, 0.0)
        f1 = np.where(prec + rec > 0, 2 * prec * rec / (prec + rec), 0.0)
    present = support > 0
    roc = np.array([_roc_auc(y_true == k, proba[:, k]) for k in range(n_classes)])
    pr = np.array([_average_precision(y_true == k, proba[:, k]) for k in range(n_classes)])
    n = len(y_true)
    pos_t, pos_p = y_true == positive, y_pred == positive
    return {
        "accuracy": float(tp.sum() / n),
        # scikit-learn's balanced accuracy averages recall over the classes present in y_true
        "balanced_accuracy": float(rec[present].mean()),
        "macro_precision": float(prec.mean()),
        "macro_recall": float(rec.mean()),
        "macro_f1": float(f1.mean()),
        "macro_roc_auc": float(roc[1]) if n_classes == 2 else float(np.mean(roc)),
        "macro_pr_auc": float(np.mean(pr)),
        "sensitivity": float((pos_t & pos_p).sum() / pos_t.sum()) if pos_t.any() else NAN,
        "specificity": float((~pos_t & ~pos_p).sum() / (~pos_t).sum()) if (~pos_t).any() else NAN,
        "per_class": {k: {"precision": float(prec[k]), "recall": float(rec[k]), "f1": float(f1[k]),
                          "roc_auc": float(roc[k]), "pr_auc": float(pr[k])} for k in range(n_classes)},
    }
