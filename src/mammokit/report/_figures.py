"""Evaluation figures of one run: confusion matrix, ROC, PR and reliability diagram.

Matplotlib's object API (``Figure`` + Agg canvas) is used instead of pyplot, so no global state or
GUI backend is involved and figures can be drawn from any thread.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from sklearn.calibration import calibration_curve
from sklearn.metrics import (
    ConfusionMatrixDisplay,
    PrecisionRecallDisplay,
    RocCurveDisplay,
    average_precision_score,
    confusion_matrix,
    roc_curve,
)

from ._run_folder import Predictions

DPI = 100
RELIABILITY_BINS = 10


def plain(text) -> str:
    """Text for a figure, shown literally: a '$' in a run name or file name must not start mathtext."""
    return str(text).replace("$", r"\$")


def save_figure(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, format="png")
    return path


def confusion_figure(preds: Predictions, classes: tuple[str, ...]) -> Figure:
    """Counts and row-normalised (recall per true class) confusion matrices side by side."""
    labels = list(range(len(classes)))
    counts = confusion_matrix(preds.y_true, preds.y_pred, labels=labels)
    with np.errstate(invalid="ignore", divide="ignore"):
        rows = counts / counts.sum(axis=1, keepdims=True)
    rows = np.nan_to_num(rows)
    fig = Figure(figsize=(4.2 * 2 + 0.6, 4.0))
    # Fixed margins: constrained layout roughly doubles the drawing time of these small figures.
    fig.subplots_adjust(left=0.1, right=0.99, bottom=0.14, top=0.92, wspace=0.35)
    ax_counts, ax_norm = fig.subplots(1, 2)
    ConfusionMatrixDisplay(counts, display_labels=[plain(c) for c in classes]).plot(
        ax=ax_counts, colorbar=False, cmap="Blues", values_format="d"
    )
    ax_counts.set_title("Counts")
    ConfusionMatrixDisplay(rows, display_labels=[plain(c) for c in classes]).plot(
        ax=ax_norm, colorbar=False, cmap="Blues", values_format=".2f", im_kw={"vmin": 0, "vmax": 1}
    )
    ax_norm.set_title("Row-normalised (recall per true class)")
    return fig


def _present(preds: Predictions, k: int) -> bool:
    """A one-vs-rest curve needs both positives and negatives of class k."""
    positives = int((preds.y_true == k).sum())
    return 0 < positives < len(preds)


def roc_figure(preds: Predictions, classes: tuple[str, ...]) -> Figure:
    """One-vs-rest ROC curve per class plus the macro average (mean TPR over a common FPR grid)."""
    fig = Figure(figsize=(5.2, 4.8))
    fig.subplots_adjust(left=0.13, right=0.97, bottom=0.11, top=0.93)
    ax = fig.subplots()
    grid = np.linspace(0.0, 1.0, 201)
    tprs, aucs = [], []
    for k, name in enumerate(map(plain, classes)):
        if not _present(preds, k):
            ax.plot([], [], " ", label=f"{name}: no ROC (one class only among these rows)")
            continue
        y = preds.y_true == k
        display = RocCurveDisplay.from_predictions(y, preds.prob[:, k], name=name, ax=ax, plot_chance_level=False)
        aucs.append(display.roc_auc)
        fpr, tpr, _ = roc_curve(y, preds.prob[:, k])
        tprs.append(np.interp(grid, fpr, tpr))
    if tprs:
        mean_tpr = np.mean(tprs, axis=0)
        mean_tpr[0] = 0.0
        ax.plot(grid, mean_tpr, color="black", lw=2.2, ls="--",
                label=f"macro average (AUC = {np.mean(aucs):.2f})")
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls=":", label="chance")
    ax.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="False positive rate", ylabel="True positive rate",
           title="ROC, one-vs-rest")
    ax.legend(loc="lower right", fontsize=8)
    return fig


def pr_figure(preds: Predictions, classes: tuple[str, ...]) -> Figure:
    """One-vs-rest precision-recall curve per class; the legend gives average precision (PR-AUC)."""
    fig = Figure(figsize=(5.2, 4.8))
    fig.subplots_adjust(left=0.13, right=0.97, bottom=0.11, top=0.93)
    ax = fig.subplots()
    aps = []
    for k, name in enumerate(map(plain, classes)):
        if not _present(preds, k):
            ax.plot([], [], " ", label=f"{name}: no PR curve (one class only among these rows)")
            continue
        y = preds.y_true == k
        PrecisionRecallDisplay.from_predictions(y, preds.prob[:, k], name=name, ax=ax)
        aps.append(average_precision_score(y, preds.prob[:, k]))
        prevalence = float(y.mean())
        ax.axhline(prevalence, color=ax.lines[-1].get_color(), lw=0.8, ls=":")
    title = "Precision-recall, one-vs-rest"
    if aps:
        title += f" (macro AP = {np.mean(aps):.2f})"
    ax.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="Recall", ylabel="Precision", title=title)
    ax.legend(loc="lower left", fontsize=8)
    ax.text(0.99, 0.01, "dotted: class prevalence (chance)", transform=ax.transAxes, ha="right",
            va="bottom", fontsize=7, color="grey")
    return fig


def _top_label(prob: np.ndarray, y_true: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Confidence of the predicted class, and whether that prediction was right."""
    return prob.max(axis=1), (prob.argmax(axis=1) == y_true).astype(int)


def _calibration_label(title: str, numbers: dict | None) -> str:
    if not isinstance(numbers, dict):
        return title
    parts = [f"{k.upper() if k == 'ece' else k.capitalize()} {numbers[k]:.3f}"
             for k in ("brier", "ece") if isinstance(numbers.get(k), (int, float))]
    return f"{title} ({', '.join(parts)})" if parts else title


def reliability_figure(preds: Predictions, calibration: dict | None) -> Figure:
    """Top-label reliability diagram: accuracy against confidence of the predicted class,
    before calibration (raw_prob_* columns, when written) and after."""
    calibration = calibration if isinstance(calibration, dict) else {}
    fig = Figure(figsize=(5.2, 5.4))
    fig.subplots_adjust(left=0.13, right=0.97, bottom=0.1, top=0.94, hspace=0.08)
    ax, ax_hist = fig.subplots(2, 1, height_ratios=[3, 1], sharex=True)
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls=":", label="perfect calibration")
    series = []
    if preds.raw_prob is not None:
        series.append(("before calibration", preds.raw_prob, calibration.get("before"), "tab:orange", "--"))
    method = calibration.get("method")
    after = "after calibration" + (f" ({method})" if method else "")
    series.append((after, preds.prob, calibration.get("after"), "tab:blue", "-"))
    bins = np.linspace(0, 1, RELIABILITY_BINS + 1)
    for title, prob, numbers, colour, style in series:
        confidence, correct = _top_label(prob, preds.y_true)
        frac, mean_conf = calibration_curve(correct, confidence, n_bins=RELIABILITY_BINS, strategy="uniform")
        ax.plot(mean_conf, frac, marker="o", ms=4, color=colour, ls=style, label=_calibration_label(title, numbers))
        ax_hist.hist(confidence, bins=bins, color=colour, alpha=0.45, label=title)
    ax.set(xlim=(0, 1), ylim=(0, 1.02), ylabel="Accuracy in bin", title="Reliability (top-label confidence)")
    ax.legend(loc="upper left", fontsize=8)
    ax_hist.set(xlabel="Confidence of the predicted class", ylabel="Rows")
    return fig
