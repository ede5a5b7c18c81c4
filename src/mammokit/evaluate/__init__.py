"""Evaluation: scikit-learn metrics, patient-level bootstrap CIs, calibration (Brier, ECE)."""
from ._bootstrap import bootstrap_ci, patient_bootstrap_indices
from ._calibration import (
    CALIBRATION_METHODS,
    Calibrator,
    brier_score,
    expected_calibration_error,
    reliability_curve,
)
from ._metrics import PER_CLASS_METRICS, SCALAR_METRICS, scalar_metrics
from ._predictions import PredictionTable, read_predictions, write_predictions
from ._rerun import evaluate_run
from ._summary import calibration_report, mean_of_repeats, per_repeat_metrics, summarize

__all__ = [
    "CALIBRATION_METHODS",
    "PER_CLASS_METRICS",
    "SCALAR_METRICS",
    "Calibrator",
    "PredictionTable",
    "bootstrap_ci",
    "brier_score",
    "calibration_report",
    "evaluate_run",
    "expected_calibration_error",
    "mean_of_repeats",
    "patient_bootstrap_indices",
    "per_repeat_metrics",
    "read_predictions",
    "reliability_curve",
    "scalar_metrics",
    "summarize",
    "write_predictions",
]
