"""``run_lesion(config, out_dir)``: cross-validate the lesion model and write the run folder.

Writes config.yaml, metrics.json (the run-folder schema plus the derived binary tasks and
"localisation"), predictions.csv, figures/heatmaps/*.png for a few test images, and bundle/ (the model
refitted on every image).
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from .. import __version__
from .._provenance import git_commit
from ..bundle._evidence import discrimination_from_summary, near_constant_from, prevalence_block
from ..bundle._lesion import save_lesion_bundle
from ..constants import BASE_LABELS, RESEARCH_DISCLAIMER, TASKS
from ..datasets import load_dataset
from ..errors import ConfigError, DatasetError
from ..evaluate import PredictionTable
from ..features import compute_cell_maps
from ..models.lesion import LesionModel, LesionSettings
from ..protocols._lesion_cv import LesionCVResult, cross_validate
from ._config import check_choice, check_run_name, merge, parse_override  # one loader for every config kind
from ._run_folder import write_run_folder

# The same top-level layout as the other experiment configs (mammokit.orchestration), with the lesion
# model's settings under ``model`` and its cell balancing in ``balance``.
DEFAULTS = {
    "name": "mias-lesion", "seed": 0, "task": "3class",
    "dataset": {"name": "mias", "data": None, "ids": None, "limit": None},
    "features": {"backbone": "efficientnet_lite0", "weights": None, "cache_dir": None, "threads": 1},
    "balance": "class_weight",
    "model": {"type": "lesion", "heatmap_figures": 6},
    "protocol": {"name": "cv", "folds": 5, "repeats": 3},
    "bootstrap": {"n": 1000, "level": 0.95},
}
_NOT_SETTINGS = ("type", "heatmap_figures")


def _free(where: str) -> bool:
    """The ``model`` section's keys are the lesion settings, checked by ``LesionSettings.from_dict``."""
    return where.startswith("model.")


def _merge(base: dict, update: dict | None, where: str = "") -> dict:
    """The one config merge (orchestration._config.merge), with the lesion settings free-form."""
    return merge(base, update or {}, where, free=_free)


def load_lesion_config(data: dict, overrides: list[str] | None = None, name: str | None = None) -> dict:
    """A lesion config (as read from YAML) over the defaults, ``key.sub=value`` overrides applied, validated."""
    cfg = _merge(DEFAULTS, data or {})
    if name and "name" not in (data or {}):
        cfg["name"] = name
    for item in overrides or []:
        cfg = _merge(cfg, parse_override(item))
    return resolve_config(cfg)


def settings_of(cfg: dict) -> LesionSettings:
    d = {k: v for k, v in cfg["model"].items() if k not in _NOT_SETTINGS}
    d.update(backbone=cfg["features"]["backbone"], weights=cfg["features"]["weights"], balance=cfg["balance"],
             seed=int(cfg["seed"]))
    return LesionSettings.from_dict(d)


def resolve_config(config: dict) -> dict:
    """Defaults filled in and every lesion setting spelled out (what config.yaml records)."""
    cfg = _merge(DEFAULTS, config or {})
    if cfg["model"].get("type", "lesion") != "lesion":
        raise ConfigError(f"model.type: run_lesion runs the lesion model, not {cfg['model']['type']!r}")
    if cfg["protocol"].get("name", "cv") != "cv":
        raise ConfigError("protocol.name: the lesion model is evaluated with the cv protocol only")
    check_choice("task", cfg["task"], TASKS)
    check_run_name(cfg["name"])
    s = settings_of(cfg)
    extra = {k: cfg["model"][k] for k in _NOT_SETTINGS if k in cfg["model"]}
    cfg["model"] = {**extra, **{k: v for k, v in s.as_dict().items()
                                if k not in ("backbone", "weights", "balance", "seed")}}
    return cfg


def _records(cfg: dict):
    d = cfg["dataset"]
    records = load_dataset(d.get("name", "mias"), d.get("data"))
    if d.get("ids"):
        wanted = set(d["ids"])
        records = [r for r in records if r.id in wanted]
    if d.get("limit"):
        records = records[: int(d["limit"])]
    if len({r.patient for r in records}) < int(cfg["protocol"]["folds"]):
        raise DatasetError(f"only {len({r.patient for r in records})} patients for "
                           f"{cfg['protocol']['folds']} patient-grouped folds")
    return records


def task_view(y3: np.ndarray, P3: np.ndarray, task: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows used, y, probabilities) of ``task`` from 3-class outputs (normal, benign, malignant)."""
    if task == "3class":
        return np.arange(len(y3)), y3, P3
    if task == "normal_vs_abnormal":
        return np.arange(len(y3)), (y3 > 0).astype(int), np.stack([P3[:, 0], P3[:, 1] + P3[:, 2]], axis=1)
    rows = np.flatnonzero(y3 > 0)
    pb = P3[rows, 1:] / np.clip(P3[rows, 1:].sum(axis=1, keepdims=True), 1e-12, None)
    return rows, y3[rows] - 1, pb


def _task_block(y3, P3, groups, repeats, task, n_boot, seed) -> dict:
    from ..evaluate import mean_of_repeats, per_repeat_metrics, summarize

    rows, y, P = task_view(y3, P3, task)
    classes = TASKS[task]
    per = per_repeat_metrics(y, P, repeats[rows], classes)
    return {"classes": list(classes), "n_test_rows": len(rows),
            "metrics": summarize(y, P, groups[rows], classes, n_boot=n_boot, seed=seed, repeats=repeats[rows]),
            "per_repeat": per, "mean_of_repeats": mean_of_repeats(per)}


def _localisation(res: LesionCVResult) -> dict:
    hits = np.asarray([h for h in res.hits if h is not None], bool)
    reps = np.asarray([r for r, h in zip(res.repeats, res.hits) if h is not None])
    per = [{"repeat": int(r), "hit_rate": float(hits[reps == r].mean()), "n": int((reps == r).sum())}
           for r in np.unique(reps)]
    return {"hit_rate": float(np.mean([p["hit_rate"] for p in per])) if per else None,
            "n": int(per[0]["n"]) if per else 0, "per_repeat": per,
            "definition": "share of abnormal test images with annotated coordinates whose highest heatmap peak "
                          "(cell centre, mapped to original pixels) falls inside an annotated lesion circle; "
                          "mean over repeats, n per repeat"}


def _fixed_aggregation_aucs(res: LesionCVResult) -> dict:
    """Normal-vs-abnormal AUC of the untrained heatmap aggregations (mean over repeats): an ablation."""
    from sklearn.metrics import roc_auc_score

    y = (np.asarray(res.y_true) > 0).astype(int)
    reps = np.asarray(res.repeats)
    out = {}
    for how, scores in res.fixed_scores.items():
        s = np.asarray(scores)
        out[how] = float(np.mean([roc_auc_score(y[reps == r], s[reps == r]) for r in np.unique(reps)]))
    return out


def _prediction_table(res: LesionCVResult, task: str) -> PredictionTable:
    """predictions.csv rows for ``task`` (the image's row under the task's classes), with the 3-class
    probabilities, the heatmap peak (original pixels) and whether it hit a lesion as extra columns."""
    y3, P3, _, _ = res.arrays()
    rows, y, P = task_view(y3, P3, task)
    hits = [res.hits[i] for i in rows]
    extra = {f"prob3_{c}": [f"{P3[i][k]:.6g}" for i in rows] for k, c in enumerate(BASE_LABELS)}
    extra.update({"peak_x": [f"{res.peaks[i][0]:.1f}" for i in rows],
                  "peak_y": [f"{res.peaks[i][1]:.1f}" for i in rows],
                  "localisation_hit": ["" if h is None else str(int(h)) for h in hits]})
    return PredictionTable(ids=[res.ids[i] for i in rows], patients=np.asarray([res.patients[i] for i in rows]),
                           repeats=np.asarray([res.repeats[i] for i in rows]),
                           folds=np.asarray([res.folds[i] for i in rows]), synthetic=np.zeros(len(rows), int),
                           paths=[str(res.paths[i]) for i in rows], y_true=np.asarray(y), proba=np.asarray(P),
                           proba_raw=None, classes=TASKS[task], extra=extra)


def run_lesion(config: dict, out_dir: str | Path, *, progress: bool = True) -> Path:
    """Cross-validate the lesion model per ``config`` and write the run folder ``out_dir``."""
    from ..models.lesion._figures import save_heatmap_figure

    cfg = resolve_config(config)
    out = Path(out_dir)
    (out / "figures" / "heatmaps").mkdir(parents=True, exist_ok=True)
    write_run_folder(out, config=cfg)
    settings = settings_of(cfg)
    seed, task = int(cfg["seed"]), cfg["task"]
    records = _records(cfg)
    t0 = time.perf_counter()
    maps, map_stats = compute_cell_maps(records, backbone=settings.backbone, weights=settings.weights,
                                        sizes=settings.sizes, intensity=settings.intensity,
                                        cache_dir=cfg["features"]["cache_dir"],
                                        threads=cfg["features"]["threads"], progress=progress)
    t_features = time.perf_counter() - t0
    # Heatmap figures: the first abnormal test images with coordinates in repeat 0, plus one normal.
    n_fig = int(cfg["model"].get("heatmap_figures", 6))
    figs: list[tuple[int, np.ndarray, np.ndarray, int]] = []

    def keep(r, f, i, logits, mask, view_size):
        rec = records[i]
        want_abn = sum(1 for x in figs if records[x[0]].lesions) < max(0, n_fig - 1)
        want_norm = not any(not records[x[0]].lesions for x in figs)
        if r == 0 and len(figs) < n_fig and ((rec.lesions and want_abn and any(les.has_location for les in rec.lesions))
                                              or (not rec.lesions and want_norm)):
            figs.append((i, logits.copy(), mask.copy(), f, view_size))

    t1 = time.perf_counter()
    res = cross_validate(records, maps, settings, folds=int(cfg["protocol"]["folds"]),
                         repeats=int(cfg["protocol"]["repeats"]), seed=seed, keep=keep,
                         threads=int(cfg["features"]["threads"] or 1))
    t_cv = time.perf_counter() - t1
    y3, P3, groups, repeats = res.arrays()
    n_boot = int(cfg["bootstrap"]["n"])
    tasks = {t: _task_block(y3, P3, groups, repeats, t, n_boot, seed) for t in TASKS}
    main = tasks[task]
    headline = {
        "normal_vs_abnormal_roc_auc": tasks["normal_vs_abnormal"]["mean_of_repeats"]["macro_roc_auc"],
        "benign_vs_malignant_roc_auc": tasks["benign_vs_malignant"]["mean_of_repeats"]["macro_roc_auc"],
        "3class_macro_roc_auc": tasks["3class"]["mean_of_repeats"]["macro_roc_auc"],
    }
    loc = _localisation(res)
    headline["localisation_hit_rate"] = loc["hit_rate"]
    # What the bundle has shown it can do, in the fields the web app reads (bundle._evidence): each task's
    # pooled AUC with its patient-bootstrap CI, and whether the out-of-fold probabilities barely move.
    discrimination = {t: discrimination_from_summary(tasks[t]["metrics"], t, TASKS[t])[t] for t in TASKS}
    discrimination.update({k: v for k, v in discrimination_from_summary(tasks["3class"]["metrics"], "3class",
                                                                        TASKS["3class"]).items() if k != "3class"})
    near_constant = near_constant_from(P3, np.asarray(res.repeats) * 1000 + np.asarray(res.folds))
    from ..evaluate import calibration_report

    rows, yt, Pt = task_view(y3, P3, task)
    calib = calibration_report(yt, Pt, Pt, "none (multinomial logistic aggregator on out-of-fold heatmap "
                                            "features, fitted at the real class prior)")
    for i, logits, mask, f, view_size in figs:
        save_heatmap_figure(out / "figures" / "heatmaps" / f"{records[i].id}.png", records[i], maps[i], logits, mask,
                            view_size=view_size,
                            title_extra=f"repeat 0, fold {f} (test)",
                            proba=P3[next(n for n in range(len(res.ids))
                                          if res.ids[n] == records[i].id and res.repeats[n] == 0)])
    t2 = time.perf_counter()
    with threadpool_limits(limits=int(cfg["features"]["threads"] or 1)):
        final = LesionModel(settings).fit(records, maps, np.arange(len(records)), seed=seed)
    t_final = time.perf_counter() - t2
    classes = TASKS[task]
    metrics = {
        "name": cfg["name"], "protocol": "cv", "task": task, "classes": list(classes),
        "positive_class": classes[-1], "leaky": False, "leak": None, "seed": seed,
        "n_images": len(records), "n_patients": len({r.patient for r in records}), "n_test_rows": len(rows),
        "model": "lesion", "backbone": settings.backbone, "balance": settings.balance,
        "metrics": main["metrics"], "calibration": calib, "per_repeat": main["per_repeat"],
        "per_repeat_mean": main["mean_of_repeats"],
        "protocol_description": (
            f"Cross-validation: {cfg['protocol']['folds']}-fold stratified, patient-grouped splits repeated "
            f"{cfg['protocol']['repeats']} times. In each fold the cell classifiers, hard-negative mining, PCA and "
            "the image aggregator (on inner-fold, out-of-fold heatmaps) see the training patients only; test-image "
            "annotations are used only to score localisation."),
        "headline": headline, "tasks": tasks, "localisation": loc,
        "discrimination": discrimination, "near_constant": near_constant,
        "ablation_fixed_aggregation_normal_vs_abnormal_auc": _fixed_aggregation_aucs(res),
        "leak_check": res.leak_check,
        "fits": res.fits,
        "lesion": {"settings": settings.as_dict(), "feature_maps": map_stats},
        "timing_s": {"features": round(t_features, 2), "fit_evaluate": round(t_cv, 2), "final_fit": round(t_final, 2)},
        "bundle": {"trained_on": f"all {len(records)} images, same procedure; the CV metrics estimate it"},
        "git_commit": git_commit(), "mammokit_version": __version__, "disclaimer": RESEARCH_DISCLAIMER,
    }

    save_lesion_bundle(out / "bundle", final, dataset={"name": cfg["dataset"]["name"],
                                                        "n_images": len(records)},
                       seed=seed, metrics_summary=headline, trained_on=f"all {len(records)} images",
                       discrimination=discrimination, near_constant=near_constant,
                       prevalence=prevalence_block(
                           BASE_LABELS, [sum(r.label == c for r in records) for c in BASE_LABELS],
                           f"class frequencies of the {len(records)} training images (the aggregator is fitted "
                           "on them without resampling)"))
    write_run_folder(out, predictions=_prediction_table(res, task), metrics=metrics)
    return out
