"""Plain-words text of the report: what each protocol does, and how to format a number with its CI."""
from __future__ import annotations

import math

PROTOCOL_TITLES = {
    "module1": "Module 1 (the paper's balanced protocol) - LEAKY",
    "module2": "Module 2 (the paper's realistic protocol)",
    "cv": "Repeated stratified group k-fold cross-validation",
}

PROTOCOL_DESCRIPTIONS = {
    "module1": (
        "SMOTE was applied to the whole data set before it was split 80/20 into training and test rows. "
        "Synthetic test rows are interpolated from images that are also in training, and real test images "
        "have their own synthetic neighbours in training, so the test set is not independent of the training "
        "set: the figures below are inflated and do not estimate performance on new women."
    ),
    "module2": (
        "20% of the original, imbalanced data were held out for testing, stratified by class and grouped by "
        "patient (both breasts of a woman are on the same side of the split). Resampling (e.g. SMOTE) was "
        "fitted on the training 80% only; the test rows are real images with the real class frequencies."
    ),
    "cv": (
        "Repeated stratified group k-fold cross-validation: the data are split into k folds grouped by patient, "
        "each fold is the test part once, and the whole procedure is repeated with different shuffles. "
        "Resampling and standardisation are fitted inside the training folds only, never on test rows."
    ),
}

LEAK_EXPLANATION = (
    "This run used the paper's Module 1: SMOTE was fitted on the whole data set before the train/test split. "
    "Synthetic test rows are interpolated from training images and real test images can have the same "
    "woman's other breast in training, so the test set is not independent of training."
)

METRIC_LABELS = {
    "accuracy": "Accuracy",
    "balanced_accuracy": "Balanced accuracy",
    "macro_precision": "Macro precision",
    "macro_recall": "Macro recall",
    "macro_f1": "Macro F1",
    "macro_roc_auc": "Macro ROC-AUC (one-vs-rest)",
    "macro_pr_auc": "Macro PR-AUC",
    "sensitivity": "Sensitivity",
    "specificity": "Specificity",
}


def protocol_title(protocol: str) -> str:
    return PROTOCOL_TITLES.get(protocol, protocol or "unknown protocol")


def protocol_description(protocol: str) -> str:
    return PROTOCOL_DESCRIPTIONS.get(
        protocol, f"Protocol {protocol!r}: no description available; see the run's config.yaml."
    )


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def fmt(value, digits: int = 3) -> str:
    """A number with fixed decimals, or an en dash when it is missing."""
    return f"{value:.{digits}f}" if is_number(value) else "\u2013"


def metric_entry(metrics: dict, key: str) -> tuple[float | None, tuple[float, float] | None]:
    """(value, (low, high)) from metrics.json's ``{"value": v, "ci": [lo, hi]}`` (or a bare number)."""
    entry = metrics.get(key)
    if is_number(entry):
        return float(entry), None
    if not isinstance(entry, dict):
        return None, None
    value = entry.get("value")
    value = float(value) if is_number(value) else None
    ci = entry.get("ci")
    if isinstance(ci, (list, tuple)) and len(ci) == 2 and all(is_number(c) for c in ci):
        return value, (float(ci[0]), float(ci[1]))
    return value, None


def fmt_ci(ci: tuple[float, float] | None, digits: int = 3) -> str:
    return f"{ci[0]:.{digits}f}\u2013{ci[1]:.{digits}f}" if ci else "\u2013"
