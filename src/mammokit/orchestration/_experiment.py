"""Run one configured experiment end to end and write its run folder.

    cfg = load_config("configs/mias-cv.yaml", ["protocol.repeats=1"])   # orchestration._config
    run_dir = run_config(cfg, "runs/mias-cv")

data set -> task targets -> cached deep features -> protocol (balance, head, calibration)
-> metrics with patient-bootstrap CIs -> config.yaml, metrics.json, predictions.csv, bundle/,
then the report (figures + report.html) when mammokit.report is available.
"""
from __future__ import annotations

import copy
import sys
import time
from pathlib import Path

import numpy as np

from .. import __version__
from .._json import strict_value
from .._numerics import numerics_report
from ..constants import DEFAULT_CACHE_DIR, DEFAULT_RUNS_DIR, RESEARCH_DISCLAIMER
from ..errors import ConfigError
from ._config import validate_config
from ._run_folder import prediction_table, write_run_folder

# Models run_config trains (on pooled features) and bundles; others run through `mammokit compare`.
RUN_MODEL_TYPES = ("dense_head", "logistic")

def _features(cfg: dict, records, progress: bool):
    from ..features import extract_features, load_backbone, resolve_preprocess

    f = cfg["features"]
    # size null: the paper's 224 px for resnet50, 384 px for the EfficientNet-Lite backbones
    size = f["size"] if f["size"] is not None else (224 if f["backbone"] == "resnet50" else 384)
    pre = resolve_preprocess(f["backbone"], None, size=size, mode=f["mode"])
    bb = load_backbone(f["backbone"], f["weights"], pre.size)  # fails early, before any image is read
    fs = extract_features(records, backbone=f["backbone"], weights=f["weights"], preprocess=pre,
                          cache_dir=f["cache_dir"] or DEFAULT_CACHE_DIR, batch_size=int(f["batch_size"]),
                          tta=bool(f["tta"]), progress=progress)
    return fs, pre, bb


def build_metrics(cfg: dict, result, classes, *, n_images: int, n_patients: int, timing: dict,
                  feature_stats: dict | None = None) -> dict:
    """metrics.json content for a protocol result (see docs/architecture.md)."""
    from .._provenance import git_commit
    from ..evaluate import calibration_report, mean_of_repeats, per_repeat_metrics, summarize

    b = cfg["bootstrap"]
    headline = summarize(result.y_true, result.proba, result.patients, classes, n_boot=int(b["n"]),
                         seed=cfg["seed"], level=float(b["level"]))
    per_repeat = per_repeat_metrics(result.y_true, result.proba, result.repeats, classes)
    cal_method = result.final.calibrator.to_dict()["fitted_method"]
    return strict_value({
        "name": cfg["name"], "protocol": result.protocol, "task": cfg["task"], "classes": list(classes),
        "positive_class": classes[-1], "leaky": bool(result.leaky), "leak": result.leak,
        "seed": cfg["seed"], "n_images": int(n_images), "n_patients": int(n_patients),
        "n_test_rows": len(result.y_true),
        "model": cfg["model"]["type"], "backbone": cfg["features"]["backbone"], "balance": cfg["balance"],
        "metrics": headline,
        # The same predictions decided on the head's own (balanced-prior, uncalibrated) probabilities,
        # as the paper does: more minority-class calls, different accuracy/sensitivity trade-off.
        "metrics_raw": summarize(result.y_true, result.proba_raw, result.patients, classes, n_boot=int(b["n"]),
                                 seed=cfg["seed"], level=float(b["level"])),
        "decision_rule": "argmax of the calibrated, prior-corrected probabilities (metrics); "
                         "argmax of the head's balanced-prior probabilities (metrics_raw)",
        "calibration": calibration_report(result.y_true, result.proba_raw, result.proba,
                                          cfg["calibration"]["method"] if cal_method != "none" else "none"),
        "per_repeat": per_repeat,
        "per_repeat_mean": mean_of_repeats(per_repeat),
        "protocol_description": result.description,
        "leak_check": result.leak_check,
        "bundle": {"trained_on": result.final_note},
        "fits": [{k: v for k, v in f.items() if k != "calibration"} for f in result.fits],
        "features": feature_stats or {},
        "timing_s": timing,
        "git_commit": git_commit(),
        "numerics": numerics_report(),
        "mammokit_version": __version__,
        "disclaimer": RESEARCH_DISCLAIMER,
    })


def run_config(config: dict, out_dir: str | Path | None = None, *, progress: bool = True,
               report: bool = True) -> Path:
    """Run ``config`` (as from ``load_config``) and write the run folder; returns its path."""
    if isinstance(config.get("model"), dict) and config["model"].get("type") == "lesion":
        from ._lesion_run import run_lesion  # the lesion-aware model writes the same run-folder files

        out = run_lesion(config, Path(out_dir) if out_dir is not None else DEFAULT_RUNS_DIR / config["name"],
                         progress=progress)
        if report:
            _write_report(out)
        return out
    from ..bundle import discrimination_from_summary, near_constant_from, save_bundle
    from ..datasets import load_dataset, task_targets
    from ..protocols import ProtocolData, run_protocol

    cfg = validate_config(copy.deepcopy(config))
    if cfg["model"]["type"] not in RUN_MODEL_TYPES:
        raise ConfigError(f"model.type {cfg['model']['type']}: `mammokit run` trains on pooled features "
                          f"({', '.join(RUN_MODEL_TYPES)}); sequence models run through `mammokit compare`")
    out = Path(out_dir) if out_dir is not None else DEFAULT_RUNS_DIR / cfg["name"]
    t0 = time.perf_counter()
    records = load_dataset(cfg["dataset"]["name"], cfg["dataset"]["data"])
    td = task_targets(records, cfg["task"])
    used = [records[i] for i in td.indices]
    fs, pre, bb = _features(cfg, used, progress)
    # record what was used, so config.yaml re-runs the same thing even where it said "null" (backbone default)
    cfg["features"]["size"], cfg["features"]["mode"] = int(pre.size), pre.mode
    t_feat = time.perf_counter() - t0
    data = ProtocolData(fs.X, td.y, np.asarray(td.groups, dtype=str), [r.id for r in used],
                        [str(r.path) for r in used], td.classes)
    t1 = time.perf_counter()
    result = run_protocol(cfg["protocol"]["name"], data, cfg)
    t_fit = time.perf_counter() - t1
    timing = {"features": round(t_feat, 2), "fit_evaluate": round(t_fit, 2)}
    metrics = build_metrics(cfg, result, td.classes, n_images=len(used), n_patients=len(set(data.groups)),
                            timing=timing, feature_stats={k: v for k, v in fs.stats.items()})
    metrics["timing_s"]["total"] = round(time.perf_counter() - t0, 2)

    write_run_folder(out, config=cfg, predictions=prediction_table(result, td.classes))
    # The bundle's out-of-distribution reference: the real training images of the final model.
    X_ref = data.X if result.protocol != "module2" else data.X[np.isin(data.groups, result.patients, invert=True)]
    summary = {k: metrics["metrics"][k] for k in ("accuracy", "balanced_accuracy", "macro_f1", "macro_roc_auc",
                                                  "sensitivity", "specificity")}
    save_bundle(out / "bundle", result.final, X_train=X_ref, classes=td.classes, task=cfg["task"],
                features=cfg["features"], preprocess=pre.as_dict(), backbone_identity=bb.identity,
                dataset={"name": cfg["dataset"]["name"], "data": str(cfg["dataset"]["data"] or "default"),
                         "n_images": len(used), "n_patients": len(set(data.groups))},
                seed=cfg["seed"], metrics_summary={"protocol": result.protocol, "leaky": result.leaky, **summary},
                trained_on=result.final_note, protocol=result.protocol,
                discrimination=discrimination_from_summary(metrics["metrics"], cfg["task"], td.classes),
                near_constant=near_constant_from(result.proba, result.repeats * 1000 + result.folds))
    write_run_folder(out, metrics=metrics)
    if report:
        _write_report(out)
    return out


def _write_report(out: Path) -> None:
    """Figures + report.html (mammokit.report); a failure is reported, and the run's files stay written."""
    from ..report import write_report

    try:
        write_report(out)
    except Exception as exc:  # noqa: BLE001 - the run's files are written; a report failure must not hide them
        print(f"mammokit: warning: report for {out} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
