"""Run every model of a comparison under every protocol, through the experiment's own machinery.

One feature extraction (spatial maps, cached per image) feeds every model: the plain CNN
models use the maps averaged over positions (exactly the pooled features of
``extract_features``), the CNN-LSTM reads them as sequences. Each (model, protocol) cell is
one ``protocols.run_protocol`` call with the same seed, and writes a small run folder
(config.yaml, metrics.json, predictions.csv) under ``cells/``.
"""
from __future__ import annotations

import copy
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import yaml

from ..._json import strict_dumps
from ...constants import DEFAULT_CACHE_DIR, DEFAULT_RUNS_DIR, RESEARCH_DISCLAIMER
from ...errors import DatasetError
from .._run_folder import prediction_table, write_run_folder
from ._config import PROTOCOL_ORDER, validate_comparison

TABLE_METRICS = ("accuracy", "balanced_accuracy", "macro_f1", "macro_roc_auc")


@dataclass
class Comparison:
    """What ``run_comparison`` produced: one row per (model, protocol) plus where it was written."""

    name: str
    rows: list[dict]
    out_dir: Path
    files: dict[str, Path] = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)
    config: dict = field(default_factory=dict)


def select_patients(groups: np.ndarray, y: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """Row indices of a deterministic subset: ``per_class`` whole patients for each class (rarest class first)."""
    groups = np.asarray(groups).astype(str)
    rng = np.random.default_rng(seed)
    chosen: list[str] = []
    for k in np.argsort(np.bincount(y), kind="stable"):
        candidates = sorted(set(groups[y == k]) - set(chosen))
        if len(candidates) < per_class:
            raise DatasetError(f"subset: class index {k} has only {len(candidates)} patients left, "
                               f"{per_class} asked for")
        chosen += list(rng.choice(candidates, size=per_class, replace=False))
    return np.flatnonzero(np.isin(groups, chosen))


def provenance(config_path: str | Path | None = None) -> dict:
    """Date, machine, commit and versions: what docs/paper-comparison.md quotes beside the numbers."""
    import os

    import torch

    from ..._provenance import git_commit

    return {
        "date_utc": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPU cores, "
                   f"python {platform.python_version()}, torch {torch.__version__} (CPU)",
        "commit": git_commit(),
        "config": str(config_path) if config_path else None,
    }


def _cell_config(cfg: dict, model_name: str, protocol: str, seq_len: int | None) -> dict:
    """The experiment config (mammokit.orchestration format) for one (model, protocol) cell."""
    from .._config import DEFAULTS, validate_config

    m = cfg["models"][model_name]
    cell = copy.deepcopy(DEFAULTS)
    cell.update(name=f"{cfg['name']}-{model_name}-{protocol}", task=cfg["task"], seed=cfg["seed"],
                balance=m["balance"])
    cell["dataset"] = copy.deepcopy(cfg["dataset"])
    cell["features"].update(cfg["features"])
    cell["calibration"].update(cfg["calibration"])
    cell["bootstrap"].update(cfg["bootstrap"])
    cell["model"].update(m["model"])
    if seq_len is not None:
        cell["model"]["seq_len"] = int(seq_len)
    cell["protocol"].update({"name": protocol, **cfg["protocols"].get(protocol, {})})
    return validate_config(cell)


def _row(model_name: str, entry: dict, protocol: str, metrics: dict, y_true: np.ndarray, seconds: float) -> dict:
    counts = np.bincount(np.asarray(y_true, dtype=int))
    row = {
        "model": model_name, "label": entry["label"], "protocol": protocol, "leaky": bool(metrics["leaky"]),
        "balance": entry["balance"], "input": entry["input"] if entry["input"] == "pooled" else
        f"sequence:{entry['input']['sequence']}", "n_test_rows": metrics["n_test_rows"],
        # what "always predict the commonest class" scores on the same test rows
        "majority_accuracy": float(counts.max() / counts.sum()),
        "paper_claim": dict(entry["paper_claim"]), "seconds": round(seconds, 2),
    }
    for key in TABLE_METRICS:
        m = metrics["metrics"][key]
        row[key] = {"value": m["value"], "ci": m["ci"]}
    row["recall"] = {c: v["recall"] for c, v in metrics["metrics"]["per_class"].items()}
    leak = metrics.get("leak") or {}
    if leak:
        row["synthetic_test_fraction"] = leak.get("synthetic_test_fraction")
        row["leak"] = {k: leak.get(k) for k in (
            "test_rows", "synthetic_test_rows", "test_rows_interpolated_from_training_images", "real_test_images",
            "real_test_images_with_other_breast_in_training")}
    row["test_rows_seen_by_training"] = metrics.get("leak_check", {}).get("test_rows_seen_by_training_components")
    return row


def run_comparison(config: dict, out_dir: str | Path | None = None, *, config_path: str | Path | None = None,
                   progress: bool = True, log: Callable[[str], None] | None = None) -> Comparison:
    """Run the comparison ``config`` (as from ``load_comparison_config``) and write its run folder."""
    from ...datasets import load_dataset, task_targets
    from ...features import extract_features, resolve_preprocess
    from ...models._cnn_lstm import map_to_sequence
    from ...protocols import ProtocolData, run_protocol
    from .._experiment import build_metrics
    from ._charts import write_charts
    from ._table import write_tables

    say = log or (lambda msg: None)
    cfg = validate_comparison(copy.deepcopy(config))
    out = Path(out_dir) if out_dir is not None else DEFAULT_RUNS_DIR / cfg["name"]
    t0 = time.perf_counter()
    records = load_dataset(cfg["dataset"]["name"], cfg["dataset"]["data"])
    td = task_targets(records, cfg["task"])
    rows_used = np.arange(len(td))
    if cfg["subset"]["patients_per_class"]:
        rows_used = select_patients(td.groups, td.y, int(cfg["subset"]["patients_per_class"]), cfg["seed"])
    used = [records[td.indices[i]] for i in rows_used]
    y, groups = td.y[rows_used], np.asarray(td.groups[rows_used]).astype(str)

    f = cfg["features"]
    pre = resolve_preprocess(f["backbone"], None, size=f["size"], mode=f["mode"])
    fs = extract_features(used, backbone=f["backbone"], weights=f["weights"], preprocess=pre,
                          cache_dir=f["cache_dir"] or DEFAULT_CACHE_DIR, batch_size=int(f["batch_size"]),
                          tta=bool(f["tta"]), spatial=True, progress=progress)
    maps = fs.X
    t_feat = time.perf_counter() - t0
    say(f"features: {len(used)} images, maps {tuple(maps.shape[1:])}, {t_feat:.1f}s "
        f"({fs.stats['cache_hits']} from cache)")
    ids, paths = [r.id for r in used], [str(r.path) for r in used]

    rows, cells = [], {}
    out.mkdir(parents=True, exist_ok=True)
    for model_name, entry in cfg["models"].items():
        if entry["input"] == "pooled":
            X, seq_len = maps.mean(axis=(2, 3)), None  # the same global average extract_features pools with
        else:
            seq = map_to_sequence(maps, entry["input"]["sequence"])
            X, seq_len = seq.reshape(len(seq), -1), seq.shape[1]
        data = ProtocolData(X, y, groups, ids, paths, td.classes)
        for protocol in [p for p in PROTOCOL_ORDER if p in cfg["protocols"]]:
            cell_cfg = _cell_config(cfg, model_name, protocol, seq_len)
            t1 = time.perf_counter()
            result = run_protocol(protocol, data, cell_cfg)
            t_fit = time.perf_counter() - t1
            metrics = build_metrics(cell_cfg, result, td.classes, n_images=len(used),
                                    n_patients=len(set(groups)),
                                    timing={"features": round(t_feat, 2), "fit_evaluate": round(t_fit, 2)},
                                    feature_stats={k: v for k, v in fs.stats.items()})
            metrics["comparison"] = {"model": model_name, "label": entry["label"], "input": entry["input"]}
            cell_dir = write_run_folder(out / "cells" / f"{model_name}-{protocol}", config=cell_cfg,
                                        predictions=prediction_table(result, td.classes), metrics=metrics)
            row = _row(model_name, entry, protocol, metrics, result.y_true, time.perf_counter() - t1)
            rows.append(row)
            cells[f"{model_name}-{protocol}"] = str(cell_dir.relative_to(out))
            acc = row["accuracy"]["value"]
            say(f"{entry['label']} | {protocol}{' (LEAKY)' if row['leaky'] else ''}: accuracy "
                f"{acc:.3f}, {row['seconds']:.1f}s")

    prov = provenance(config_path)
    prov["seconds_total"] = round(time.perf_counter() - t0, 1)
    prov["seconds_features"] = round(t_feat, 1)
    prov["n_images"], prov["n_patients"] = len(used), len(set(groups))
    prov["class_counts"] = {c: int((y == k).sum()) for k, c in enumerate(td.classes)}
    prov["feature_map"] = list(maps.shape[1:])
    prov["disclaimer"] = RESEARCH_DISCLAIMER
    (out / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    comparison = Comparison(cfg["name"], rows, out, provenance=prov, config=cfg)
    comparison.files.update(write_tables(comparison))
    comparison.files.update(write_charts(comparison))
    (out / "comparison.json").write_text(strict_dumps(
        {"name": cfg["name"], "task": cfg["task"], "classes": list(td.classes), "provenance": prov,
         "rows": rows, "cells": cells, "disclaimer": RESEARCH_DISCLAIMER},
        indent=2))
    comparison.files["json"] = out / "comparison.json"
    return comparison
