"""The run folder, written in one place for every kind of run (`mammokit run`, the lesion run, each cell
of `mammokit compare`): config.yaml (what ran, defaults filled in), predictions.csv (one row per test
prediction, ``evaluate.write_predictions``; read back by ``evaluate.read_predictions``) and metrics.json
(strict JSON). Reports, ``mammokit evaluate`` and the comparison read only these files.
"""
from __future__ import annotations

from pathlib import Path

import yaml

from .._json import strict_dumps
from ..evaluate import PredictionTable, write_predictions

CONFIG_FILE, METRICS_FILE, PREDICTIONS_FILE = "config.yaml", "metrics.json", "predictions.csv"


def prediction_table(result, classes) -> PredictionTable:
    """The predictions.csv rows of a whole-image protocol result (protocols.ProtocolResult)."""
    return PredictionTable(ids=result.ids, patients=result.patients, repeats=result.repeats, folds=result.folds,
                           synthetic=result.synthetic, paths=result.paths, y_true=result.y_true,
                           proba=result.proba, proba_raw=result.proba_raw, classes=tuple(classes),
                           extra=result.extra)


def write_run_folder(out: str | Path, *, config: dict | None = None, predictions: PredictionTable | None = None,
                     metrics: dict | None = None) -> Path:
    """Write whichever of the three files are given into ``out`` (created). A run writes config.yaml and
    predictions.csv first and metrics.json last, after its bundle: a folder with metrics.json is complete."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if config is not None:
        (out / CONFIG_FILE).write_text(yaml.safe_dump(config, sort_keys=False))
    if predictions is not None:
        write_predictions(out / PREDICTIONS_FILE, predictions)
    if metrics is not None:
        (out / METRICS_FILE).write_text(strict_dumps(metrics, indent=2))
    return out
