"""predictions.csv: one row per test prediction (the run-folder contract)."""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputFileError

BASE_COLUMNS = ("id", "patient", "repeat", "fold", "synthetic", "path", "y_true", "y_pred")


@dataclass
class PredictionTable:
    ids: list[str]
    patients: np.ndarray
    repeats: np.ndarray
    folds: np.ndarray
    synthetic: np.ndarray
    paths: list[str]
    y_true: np.ndarray  # class indices
    proba: np.ndarray  # calibrated
    proba_raw: np.ndarray | None
    classes: tuple[str, ...]
    extra: dict[str, list[str]]


def write_predictions(path: Path, table: PredictionTable) -> Path:
    classes = table.classes
    cols = list(BASE_COLUMNS) + [f"prob_{c}" for c in classes]
    if table.proba_raw is not None:
        cols += [f"raw_prob_{c}" for c in classes]
    cols += list(table.extra)
    y_pred = table.proba.argmax(axis=1)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(cols)
        for i in range(len(table.ids)):
            row = [table.ids[i], table.patients[i], int(table.repeats[i]), int(table.folds[i]),
                   int(table.synthetic[i]), table.paths[i], classes[table.y_true[i]], classes[y_pred[i]]]
            row += [f"{p:.8g}" for p in table.proba[i]]
            if table.proba_raw is not None:
                row += [f"{p:.8g}" for p in table.proba_raw[i]]
            row += [table.extra[k][i] for k in table.extra]
            w.writerow(row)
    return path


def read_predictions(path: Path, classes: tuple[str, ...] | list[str] | None = None) -> PredictionTable:
    """Read predictions.csv back; ``classes`` defaults to the prob_<class> column order."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "predictions file not found")
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        raise InputFileError(path, "no predictions in file")
    header = list(rows[0])
    missing = [c for c in BASE_COLUMNS if c not in header]
    if missing:
        raise InputFileError(path, f"missing column(s) {', '.join(missing)}")
    if classes is None:
        classes = tuple(c[len("prob_"):] for c in header if c.startswith("prob_"))
    classes = tuple(classes)
    index = {c: k for k, c in enumerate(classes)}
    try:
        y_true = np.array([index[r["y_true"]] for r in rows], dtype=int)
        proba = np.array([[float(r[f"prob_{c}"]) for c in classes] for r in rows])
    except (KeyError, ValueError) as exc:
        raise InputFileError(path, f"bad prediction row: {exc}") from None
    has_raw = all(f"raw_prob_{c}" in header for c in classes)
    known = set(BASE_COLUMNS) | {f"prob_{c}" for c in classes} | {f"raw_prob_{c}" for c in classes}
    return PredictionTable(
        ids=[r["id"] for r in rows],
        patients=np.array([r["patient"] for r in rows]),
        repeats=np.array([int(r["repeat"]) for r in rows]),
        folds=np.array([int(r["fold"]) for r in rows]),
        synthetic=np.array([int(r["synthetic"]) for r in rows]),
        paths=[r["path"] for r in rows],
        y_true=y_true,
        proba=proba,
        proba_raw=np.array([[float(r[f"raw_prob_{c}"]) for c in classes] for r in rows]) if has_raw else None,
        classes=classes,
        extra={k: [r[k] for r in rows] for k in header if k not in known},
    )
