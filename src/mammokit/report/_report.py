"""write_report(run_dir): the figures of one run folder and its self-contained report.html."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..constants import RESEARCH_DISCLAIMER
from ._figures import (
    RELIABILITY_BINS,
    confusion_figure,
    pr_figure,
    reliability_figure,
    roc_figure,
    save_figure,
)
from ._grid import grid_figure, select_panels
from ._html import png_data_uri, render, write_text_atomic
from ._lesion import lesion_context
from ._run_folder import RunFolder, load_run
from ._text import (
    LEAK_EXPLANATION,
    METRIC_LABELS,
    fmt,
    fmt_ci,
    is_number,
    metric_entry,
    protocol_description,
    protocol_title,
)

FIGURES_DIR = "figures"
REPORT_FILE = "report.html"
PER_CLASS_COLUMNS = ("precision", "recall", "f1", "roc_auc", "pr_auc")


@dataclass
class FigureEntry:
    key: str
    title: str
    caption: str
    path: Path

    @property
    def data_uri(self) -> str:
        return png_data_uri(self.path)


def write_figures(run: RunFolder) -> list[FigureEntry]:
    """Draw every figure of the run into run_dir/figures/*.png."""
    out = run.path / FIGURES_DIR
    preds, rows_note = run.reported_predictions()
    classes = run.classes
    entries = [
        FigureEntry("confusion_matrix", "Confusion matrix",
                    f"Left: counts; right: each row divided by its true-class total (recall). {rows_note}",
                    save_figure(confusion_figure(preds, classes), out / "confusion_matrix.png")),
        FigureEntry("roc", "ROC curves",
                    "One-vs-rest ROC curve per class and their macro average; the legend gives each AUC "
                    f"computed on the rows shown (the metrics table gives the run's own values). {rows_note}",
                    save_figure(roc_figure(preds, classes), out / "roc.png")),
        FigureEntry("pr", "Precision-recall curves",
                    "One-vs-rest precision-recall curve per class with its average precision; dotted lines mark "
                    f"each class's prevalence, the level of a random classifier. {rows_note}",
                    save_figure(pr_figure(preds, classes), out / "pr.png")),
    ]
    calibration = run.metrics.get("calibration")
    before = "before (uncalibrated) and after calibration" if preds.raw_prob is not None else \
        "after calibration (the run did not write uncalibrated probabilities)"
    entries.append(FigureEntry(
        "reliability", "Reliability diagram",
        f"Accuracy against the confidence of the predicted class in {RELIABILITY_BINS} equal-width bins, {before}; "
        f"Brier score and ECE in the legend come from metrics.json. Bottom: how many rows fall in each bin. "
        f"{rows_note}",
        save_figure(reliability_figure(preds, calibration), out / "reliability.png")))
    seed = run.metrics.get("seed", run.config.get("seed", 0))
    seed = int(seed) if is_number(seed) else 0
    panels, notes = select_panels(preds, classes, run.path, run.config, seed=seed)
    n_right = sum(p.correct for p in panels)
    entries.append(FigureEntry(
        "prediction_grid", "Randomly selected test predictions",
        f"{len(panels)} test images chosen at random (seed {seed}): true class, predicted class and its "
        f"probability; green frame when right ({n_right}), red when wrong ({len(panels) - n_right}). "
        + " ".join(notes),
        save_figure(grid_figure(panels), out / "prediction_grid.png")))
    return entries


def _rows(n, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _leak_context(leak) -> dict | None:
    if not isinstance(leak, dict):
        return None
    test_rows = leak.get("test_rows")
    synthetic = leak.get("synthetic_test_rows")
    fraction = leak.get("synthetic_test_fraction")
    if not is_number(fraction) and is_number(test_rows) and is_number(synthetic) and test_rows:
        fraction = synthetic / test_rows
    interpolated = leak.get("test_rows_interpolated_from_training_images")
    other_breast = leak.get("real_test_images_with_other_breast_in_training")
    percent = f"{100 * fraction:.1f}%" if is_number(fraction) else "unknown fraction"
    n_syn = synthetic if synthetic is not None else "?"
    return {
        "synthetic_sentence": f"{n_syn} of {test_rows if test_rows is not None else '?'} test rows ({percent}) "
                              f"{'is' if synthetic == 1 else 'are'} synthetic",
        "interpolated_sentence": None if interpolated is None else
        f"{_rows(interpolated, 'test row')} {'was' if interpolated == 1 else 'were'} interpolated from images "
        "that are also in training",
        "other_breast_sentence": None if other_breast is None else
        f"{_rows(other_breast, 'real test image')} {'has' if other_breast == 1 else 'have'} the same woman's "
        "other breast in training",
        "items_shown": [(k.replace("_", " "), fmt(v) if isinstance(v, float) else str(v)) for k, v in leak.items()],
    }


def _details(run: RunFolder) -> list[tuple[str, str]]:
    m = run.metrics
    rows = [("run folder", str(run.path)), ("protocol", protocol_title(run.protocol))]
    for key in ("task", "classes", "positive_class", "model", "backbone", "balance", "seed", "n_images",
                "n_patients", "n_test_rows"):
        if m.get(key) is not None:
            value = m[key]
            rows.append((key.replace("_", " "), ", ".join(map(str, value)) if isinstance(value, list) else str(value)))
    boot = m.get("metrics", {}).get("bootstrap")
    if isinstance(boot, dict) and boot.get("n"):
        rows.append(("bootstrap", f"{boot['n']} resamples of {boot.get('unit', 'patient')}s"))
    for key in ("git_commit", "mammokit_version"):
        if m.get(key):
            rows.append((key.replace("_", " "), str(m[key])))
    timing = m.get("timing_s")
    if isinstance(timing, dict):
        rows += [(f"time: {k.replace('_', ' ')}", f"{v:.1f} s") for k, v in timing.items() if is_number(v)]
    return rows


def _metric_rows(metrics: dict, positive_class) -> list[tuple[str, str, str]]:
    keys = list(METRIC_LABELS) + [k for k in metrics if k not in METRIC_LABELS]
    rows = []
    for key in keys:
        value, ci = metric_entry(metrics, key)
        if value is None and ci is None:
            continue  # per-class tables, confusion matrix, bootstrap settings: shown elsewhere
        label = METRIC_LABELS.get(key, key.replace("_", " "))
        if key in ("sensitivity", "specificity") and positive_class:
            label += f" ({positive_class})"
        rows.append((label, fmt(value), fmt_ci(ci)))
    return rows


def _per_class_rows(metrics: dict, classes: tuple[str, ...]) -> list[tuple[str, list[str]]]:
    per_class = metrics.get("per_class")
    if not isinstance(per_class, dict):
        return []
    per_class_ci = metrics.get("per_class_ci") if isinstance(metrics.get("per_class_ci"), dict) else {}
    rows = []
    for name in list(classes) + [c for c in per_class if c not in classes]:
        values = per_class.get(name)
        if not isinstance(values, dict):
            continue
        cis = per_class_ci.get(name) if isinstance(per_class_ci.get(name), dict) else {}
        cells = []
        for column in PER_CLASS_COLUMNS:
            cell = fmt(metric_entry(values, column)[0])
            ci = cis.get(column)
            if isinstance(ci, (list, tuple)) and len(ci) == 2 and all(is_number(c) for c in ci):
                cell += f" ({fmt_ci(tuple(ci))})"
            cells.append(cell)
        rows.append((name, cells))
    return rows


def _per_repeat(metrics) -> tuple[list[str], list[list[str]]]:
    per_repeat = metrics.get("per_repeat")
    if not isinstance(per_repeat, list) or not all(isinstance(r, dict) for r in per_repeat) or not per_repeat:
        return [], []
    columns = list(dict.fromkeys(k for r in per_repeat for k in r))
    rows = [[fmt(r.get(c)) if isinstance(r.get(c), float) else str(r.get(c, "\u2013")) for c in columns]
            for r in per_repeat]
    return [c.replace("_", " ") for c in columns], rows


def _calibration_rows(calibration) -> tuple[str, list[tuple[str, str, str]]]:
    if not isinstance(calibration, dict):
        return "", []
    rows = []
    for key, label in (("before", "before calibration"), ("after", "after calibration")):
        numbers = calibration.get(key)
        if isinstance(numbers, dict):
            rows.append((label, fmt(numbers.get("brier")), fmt(numbers.get("ece"))))
    return str(calibration.get("method") or "not recorded"), rows


def render_report(run: RunFolder, figures: list[FigureEntry]) -> str:
    metrics = run.metrics.get("metrics", {})
    method, calibration_rows = _calibration_rows(run.metrics.get("calibration"))
    per_repeat_columns, per_repeat_rows = _per_repeat(run.metrics)
    return render(
        "report.html.j2",
        title=f"mammokit report: {run.name}",
        run=run,
        disclaimer=RESEARCH_DISCLAIMER,
        protocol_title=protocol_title(run.protocol),
        protocol_description=protocol_description(run.protocol),
        run_description=str(run.metrics.get("protocol_description") or ""),
        leak_explanation=LEAK_EXPLANATION,
        leaky=run.leaky,
        leak=_leak_context(run.metrics.get("leak")),
        details=_details(run),
        metric_rows=_metric_rows(metrics, run.metrics.get("positive_class")),
        per_class_columns=[c.replace("_", " ") for c in PER_CLASS_COLUMNS],
        per_class_rows=_per_class_rows(metrics, run.classes),
        per_repeat_columns=per_repeat_columns,
        per_repeat_rows=per_repeat_rows,
        calibration_method=method,
        calibration_rows=calibration_rows,
        figures=figures,
        lesion=lesion_context(run.path, run.metrics),
    )


def write_report(run_dir: str | Path) -> Path:
    """Write run_dir/figures/*.png and the self-contained run_dir/report.html; return the page's path.

    Raises ``InputFileError`` (one line, naming the file) when the run folder is missing or invalid.
    """
    run = load_run(run_dir)
    figures = write_figures(run)
    return write_text_atomic(run.path / REPORT_FILE, render_report(run, figures))
