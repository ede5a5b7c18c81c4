"""Read and check a run folder (config.yaml, metrics.json, predictions.csv) for reporting.

Every problem becomes one ``InputFileError`` naming the file, so the CLI prints one line.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import yaml

from ..errors import InputFileError
from ..evaluate import read_predictions

CONFIG_FILE, METRICS_FILE, PREDICTIONS_FILE = "config.yaml", "metrics.json", "predictions.csv"


@dataclass
class Predictions:
    """predictions.csv as arrays; labels are class indices into ``classes``."""

    ids: list[str]
    patients: list[str]
    paths: list[str]
    repeat: np.ndarray  # int
    fold: np.ndarray  # int
    synthetic: np.ndarray  # bool
    y_true: np.ndarray  # int index into classes
    y_pred: np.ndarray  # int index into classes
    prob: np.ndarray  # (n, n_classes) calibrated probabilities
    raw_prob: np.ndarray | None  # (n, n_classes) before calibration, when the run wrote them

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, mask: np.ndarray) -> Predictions:
        idx = np.flatnonzero(mask)
        return Predictions(
            ids=[self.ids[i] for i in idx],
            patients=[self.patients[i] for i in idx],
            paths=[self.paths[i] for i in idx],
            repeat=self.repeat[idx],
            fold=self.fold[idx],
            synthetic=self.synthetic[idx],
            y_true=self.y_true[idx],
            y_pred=self.y_pred[idx],
            prob=self.prob[idx],
            raw_prob=None if self.raw_prob is None else self.raw_prob[idx],
        )


@dataclass
class RunFolder:
    """Everything a report needs from one run folder."""

    path: Path
    config: dict
    metrics: dict
    predictions: Predictions
    classes: tuple[str, ...]
    extra: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.metrics.get("name") or self.config.get("name") or self.path.name)

    @property
    def protocol(self) -> str:
        return str(self.metrics.get("protocol") or "")

    @property
    def leaky(self) -> bool:
        return bool(self.metrics.get("leaky"))

    @property
    def date(self) -> str:
        """When the run finished: metrics.json's own date if it has one, else the file's mtime (UTC)."""
        for key in ("date", "created", "finished"):
            if self.metrics.get(key):
                return str(self.metrics[key])
        mtime = (self.path / METRICS_FILE).stat().st_mtime
        return datetime.fromtimestamp(mtime, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")

    def reported_predictions(self) -> tuple[Predictions, str]:
        """Rows the figures use, with a caption note: for repeated protocols only the first repeat,
        so that every test image appears once (pooled out-of-fold predictions)."""
        preds = self.predictions
        repeats = np.unique(preds.repeat)
        first = int(repeats.min())
        chosen = preds.subset(preds.repeat == first)
        n_folds = len(np.unique(chosen.fold))
        if len(repeats) > 1 or n_folds > 1:
            note = (
                f"Pooled out-of-fold predictions of repeat {first} ({n_folds} folds, {len(chosen)} test rows; "
                f"the run has {len(repeats)} repeat(s))."
            )
        else:
            note = f"Hold-out test predictions ({len(chosen)} test rows)."
        n_syn = int(chosen.synthetic.sum())
        if n_syn:
            note += f" {n_syn} of these rows are SMOTE-made synthetic test rows."
        return chosen, note


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _read_text(path: Path) -> str:
    if not path.is_file():
        raise InputFileError(path, "missing; a run folder needs config.yaml, metrics.json and predictions.csv")
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(path, f"cannot be read as UTF-8 text ({_one_line(exc)})") from exc


def _load_config(path: Path) -> dict:
    try:
        config = yaml.safe_load(_read_text(path))
    except yaml.YAMLError as exc:
        raise InputFileError(path, f"not valid YAML ({_one_line(exc)})") from exc
    if not isinstance(config, dict):
        raise InputFileError(path, "not a YAML mapping of settings")
    return config


def _load_metrics(path: Path) -> dict:
    try:
        metrics = json.loads(_read_text(path))
    except json.JSONDecodeError as exc:
        raise InputFileError(path, f"not valid JSON ({exc.msg} at line {exc.lineno})") from exc
    if not isinstance(metrics, dict):
        raise InputFileError(path, "not a JSON object")
    for key in ("classes", "metrics"):
        if key not in metrics:
            raise InputFileError(path, f"missing key '{key}'")
    classes = metrics["classes"]
    if not (isinstance(classes, list) and len(classes) >= 2 and all(isinstance(c, str) for c in classes)):
        raise InputFileError(path, "'classes' must be a list of at least two class names")
    if len(set(classes)) != len(classes):
        raise InputFileError(path, f"'classes' has duplicates: {classes}")
    if not isinstance(metrics["metrics"], dict):
        raise InputFileError(path, "'metrics' must be a JSON object")
    return metrics


def _load_predictions(path: Path, classes: tuple[str, ...]) -> Predictions:
    """predictions.csv through the one reader (evaluate.read_predictions), as the report's arrays."""
    t = read_predictions(path, classes)
    return Predictions(ids=list(t.ids), patients=[str(p) for p in t.patients], paths=list(t.paths),
                       repeat=t.repeats, fold=t.folds, synthetic=t.synthetic.astype(bool), y_true=t.y_true,
                       y_pred=t.y_pred, prob=t.proba, raw_prob=t.proba_raw)


def load_run(run_dir: str | Path) -> RunFolder:
    """Load and check a run folder; raise ``InputFileError`` naming the first bad file."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InputFileError(run_dir, "not a run folder (no such directory)")
    config = _load_config(run_dir / CONFIG_FILE)
    metrics = _load_metrics(run_dir / METRICS_FILE)
    classes = tuple(metrics["classes"])
    predictions = _load_predictions(run_dir / PREDICTIONS_FILE, classes)
    return RunFolder(path=run_dir, config=config, metrics=metrics, predictions=predictions, classes=classes)
