"""predictions.csv: one row per test prediction (the run-folder contract)."""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputFileError

BASE_COLUMNS = ("id", "patient", "repeat", "fold", "synthetic", "path", "y_true", "y_pred")
PROB_PREFIX, RAW_PROB_PREFIX = "prob_", "raw_prob_"


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
    y_pred: np.ndarray | None = None  # class indices as written (read back); the writer uses argmax of proba


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


def _to_int(path: Path, line: int, column: str, value: str) -> int:
    try:
        return int(float(value)) if value.strip() else 0
    except ValueError:
        raise InputFileError(path, f"line {line}: column '{column}' is not a number: {value!r}") from None


def _to_bool(path: Path, line: int, column: str, value: str) -> bool:
    word = value.strip().lower()
    if word in ("true", "yes"):
        return True
    if word in ("false", "no"):
        return False
    return bool(_to_int(path, line, column, value))


def _to_prob(path: Path, line: int, column: str, value: str) -> float:
    try:
        p = float(value)
    except ValueError:
        raise InputFileError(path, f"line {line}: column '{column}' is not a number: {value!r}") from None
    if not (math.isfinite(p) and -1e-6 <= p <= 1 + 1e-6):
        raise InputFileError(path, f"line {line}: column '{column}' is not a probability in [0, 1]: {value!r}")
    return p


def read_predictions(path: Path, classes: tuple[str, ...] | list[str] | None = None) -> PredictionTable:
    """Read predictions.csv back (the one reader: evaluation and reports use it); ``classes`` defaults to the
    prob_<class> column order. Every problem is an InputFileError naming the file, line and column."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "predictions file not found (missing; a run folder needs config.yaml, "
                                   "metrics.json and predictions.csv)")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(path, f"cannot read ({type(exc).__name__})") from None
    reader = csv.DictReader(text.splitlines())
    header = reader.fieldnames or []
    if classes is None:
        classes = tuple(c[len(PROB_PREFIX):] for c in header if c.startswith(PROB_PREFIX))
    classes = tuple(classes)
    prob_cols = [PROB_PREFIX + c for c in classes]
    raw_cols = [RAW_PROB_PREFIX + c for c in classes]
    missing = [c for c in (*BASE_COLUMNS, *prob_cols) if c not in header]
    if missing:
        raise InputFileError(path, f"missing column(s) {', '.join(missing)}")
    has_raw = all(c in header for c in raw_cols)
    known = set(BASE_COLUMNS) | set(prob_cols) | set(raw_cols)
    index = {c: k for k, c in enumerate(classes)}
    cols: dict[str, list] = {k: [] for k in ("ids", "patients", "paths", "repeats", "folds", "synthetic",
                                             "y_true", "y_pred", "proba", "raw")}
    extra: dict[str, list[str]] = {k: [] for k in header if k not in known}
    for line, row in enumerate(reader, start=2):
        for col in ("y_true", "y_pred"):
            if row[col] not in index:
                raise InputFileError(path, f"line {line}: {col} {row[col]!r} is not one of the classes {list(classes)}")
        cols["ids"].append(row["id"])
        cols["patients"].append(row["patient"])
        cols["paths"].append(row["path"] or "")
        cols["repeats"].append(_to_int(path, line, "repeat", row["repeat"]))
        cols["folds"].append(_to_int(path, line, "fold", row["fold"]))
        cols["synthetic"].append(_to_bool(path, line, "synthetic", row["synthetic"]))
        cols["y_true"].append(index[row["y_true"]])
        cols["y_pred"].append(index[row["y_pred"]])
        cols["proba"].append([_to_prob(path, line, c, row[c]) for c in prob_cols])
        if has_raw:
            cols["raw"].append([_to_prob(path, line, c, row[c]) for c in raw_cols])
        for k, values in extra.items():
            values.append(row[k])
    if not cols["ids"]:
        raise InputFileError(path, "has no prediction rows")
    k = len(classes)
    return PredictionTable(
        ids=cols["ids"], patients=np.array(cols["patients"]), repeats=np.asarray(cols["repeats"], dtype=int),
        folds=np.asarray(cols["folds"], dtype=int), synthetic=np.asarray(cols["synthetic"], dtype=int),
        paths=cols["paths"], y_true=np.asarray(cols["y_true"], dtype=int),
        proba=np.asarray(cols["proba"], dtype=float).reshape(-1, k),
        proba_raw=np.asarray(cols["raw"], dtype=float).reshape(-1, k) if has_raw else None,
        classes=classes, extra=extra, y_pred=np.asarray(cols["y_pred"], dtype=int),
    )
