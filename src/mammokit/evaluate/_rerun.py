"""Recompute a run folder's metrics from its predictions.csv (``mammokit evaluate``)."""
from __future__ import annotations

import json
from pathlib import Path

import yaml

from .._json import strict_dumps
from ..errors import InputFileError
from ._predictions import read_predictions
from ._summary import calibration_report, mean_of_repeats, per_repeat_metrics, summarize


def evaluate_run(run_dir: str | Path, *, n_boot: int | None = None, write: bool = False) -> dict:
    """Metrics recomputed from ``predictions.csv``; other fields kept from metrics.json/config.yaml."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InputFileError(run_dir, "run folder not found")
    cfg = {}
    if (run_dir / "config.yaml").is_file():
        cfg = yaml.safe_load((run_dir / "config.yaml").read_text()) or {}
    old = {}
    if (run_dir / "metrics.json").is_file():
        try:
            old = json.loads((run_dir / "metrics.json").read_text())
        except ValueError as exc:
            raise InputFileError(run_dir / "metrics.json", f"not valid JSON ({exc})") from None
    classes = old.get("classes")
    table = read_predictions(run_dir / "predictions.csv", classes)
    classes = list(table.classes)
    boot = cfg.get("bootstrap", {})
    n = int(n_boot if n_boot is not None else boot.get("n", 1000))
    seed = int(cfg.get("seed", old.get("seed", 0)))
    per_repeat = per_repeat_metrics(table.y_true, table.proba, table.repeats, classes)
    metrics = dict(old)
    metrics.update({
        "name": old.get("name", cfg.get("name", run_dir.name)),
        "protocol": old.get("protocol", cfg.get("protocol", {}).get("name", "?")),
        "task": old.get("task", cfg.get("task", "?")),
        "classes": classes, "positive_class": classes[-1],
        "model": old.get("model", cfg.get("model", {}).get("type", "?")),
        "backbone": old.get("backbone", cfg.get("features", {}).get("backbone", "?")),
        "balance": old.get("balance", cfg.get("balance", "?")),
        "n_test_rows": len(table.ids),
        "metrics": summarize(table.y_true, table.proba, table.patients, classes, n_boot=n, seed=seed,
                             level=float(boot.get("level", 0.95))),
        "per_repeat": per_repeat,
        "per_repeat_mean": mean_of_repeats(per_repeat),
    })
    if table.proba_raw is not None:
        metrics["metrics_raw"] = summarize(table.y_true, table.proba_raw, table.patients, classes, n_boot=n,
                                           seed=seed, level=float(boot.get("level", 0.95)))
        method = (old.get("calibration") or {}).get("method", cfg.get("calibration", {}).get("method", "?"))
        metrics["calibration"] = calibration_report(table.y_true, table.proba_raw, table.proba, method)
    if write:
        (run_dir / "metrics.json").write_text(strict_dumps(metrics, indent=2))
    return metrics
