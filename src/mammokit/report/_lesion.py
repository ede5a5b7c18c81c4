"""The lesion-aware model's extra report section: per-task AUCs, localisation, heatmaps and what inner CV chose.

Only runs whose metrics.json carries "tasks" (written by mammokit.models.lesion) get this section; every helper
returns an empty result for other runs, so their report renders exactly as before.
"""
from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ._html import png_data_uri
from ._text import fmt, fmt_ci, is_number, metric_entry

HEATMAPS_DIR = Path("figures") / "heatmaps"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# The three image-level tasks, in the order a reader asks about them.
LESION_TASKS = (
    ("normal_vs_abnormal", "Normal vs abnormal ROC-AUC"),
    ("benign_vs_malignant", "Benign vs malignant ROC-AUC"),
    ("3class", "3-class macro ROC-AUC (one-vs-rest)"),
)
TASK_METRIC = "macro_roc_auc"  # for the two-class tasks the macro one-vs-rest AUC is the ordinary AUC


@dataclass
class TaskRow:
    """One task's AUC: mean over repeats (the headline), each repeat, and the pooled value with its 95% CI."""

    key: str
    label: str
    n_test_rows: int | None
    mean: float | None
    per_repeat: list[float | None]
    pooled: float | None
    ci: tuple[float, float] | None

    @property
    def cells(self) -> list[str]:
        return [self.label, str(self.n_test_rows if self.n_test_rows is not None else "\u2013"), fmt(self.mean),
                ", ".join(fmt(v) for v in self.per_repeat) or "\u2013", fmt(self.pooled), fmt_ci(self.ci)]


TASK_COLUMNS = ("task", "test rows", "mean over repeats", "per repeat", "pooled", "pooled 95% CI")


@dataclass
class HeatmapEntry:
    image_id: str
    caption: str
    path: Path
    hit: bool | None = None  # heatmap peak inside the annotated lesion; None when it cannot be scored

    @property
    def hit_words(self) -> str:
        if self.hit is None:
            return "no lesion coordinates to score the heatmap peak against"
        return f"the heatmap peak falls {'inside' if self.hit else 'outside'} the annotated lesion"

    @property
    def data_uri(self) -> str:
        return png_data_uri(self.path)


def _mapping(value) -> dict:
    return value if isinstance(value, dict) else {}


def is_lesion_run(metrics: dict) -> bool:
    return isinstance(metrics.get("tasks"), dict)


def lesion_task_rows(metrics: dict) -> list[TaskRow]:
    """The per-task AUC rows of a lesion run; [] for any other run."""
    tasks = metrics.get("tasks")
    if not isinstance(tasks, dict):
        return []
    rows = []
    for key, label in LESION_TASKS:
        block = tasks.get(key)
        if not isinstance(block, dict):
            continue
        pooled, ci = metric_entry(_mapping(block.get("metrics")), TASK_METRIC)
        mean = _mapping(block.get("mean_of_repeats")).get(TASK_METRIC)
        repeats = block.get("per_repeat") if isinstance(block.get("per_repeat"), list) else []
        per_repeat = [r.get(TASK_METRIC) if is_number(r.get(TASK_METRIC)) else None
                      for r in repeats if isinstance(r, dict)]
        n = block.get("n_test_rows")
        rows.append(TaskRow(key, label, n if isinstance(n, int) else None, mean if is_number(mean) else None,
                            per_repeat, pooled, ci))
    return rows


def localisation_summary(metrics: dict) -> dict | None:
    """Hit rate (mean over repeats), images scored per repeat, each repeat's rate, and the definition."""
    loc = metrics.get("localisation")
    if not isinstance(loc, dict):
        return None
    per_repeat = [r for r in loc.get("per_repeat") or [] if isinstance(r, dict)]
    rate = loc.get("hit_rate")
    return {
        "hit_rate": fmt(rate),
        "percent": f"{100 * rate:.1f}%" if is_number(rate) else "\u2013",
        "n": loc.get("n", "?"),
        "per_repeat": [(str(r.get("repeat", i)), fmt(r.get("hit_rate")), str(r.get("n", "?")))
                       for i, r in enumerate(per_repeat)],
        "definition": str(loc.get("definition") or ""),
    }


def _sizes_key(fit: dict) -> str:
    sizes = fit.get("sizes_used")
    return "+".join(map(str, sizes)) if isinstance(sizes, list) else str(sizes or "?")


def fits_summary(metrics: dict) -> dict | None:
    """What inner CV chose per outer fold: counts of each choice, and one compact row per fold."""
    fits = [f for f in metrics.get("fits") or [] if isinstance(f, dict)]
    if not fits:
        return None
    rows = []
    for f in fits:
        selection = f.get("selection") if isinstance(f.get("selection"), dict) else {}
        chosen = selection.get(f"{_sizes_key(f)}/smooth{f.get('smooth_used', 0)}")
        inner = chosen.get("inner_auc") if isinstance(chosen, dict) else None
        features = f.get("features_used") if isinstance(f.get("features_used"), list) else []
        rows.append([str(f.get("repeat", "?")), str(f.get("fold", "?")),
                     f"{f.get('n_train', '?')} / {f.get('n_test', '?')}", _sizes_key(f),
                     str(f.get("smooth_used", "\u2013")), str(f.get("aggregator", "\u2013")),
                     ", ".join(map(str, features)) or "\u2013", fmt(inner), str(len(selection) or "\u2013")])

    def counts(values) -> str:
        return ", ".join(f"{v} ({n}\u00d7)" for v, n in Counter(values).most_common())

    columns = ["repeat", "fold", "train / test images", "sizes", "smoothing", "aggregator", "image features",
               "inner CV AUC", "candidates"]
    choices = [("input sizes", counts(_sizes_key(f) for f in fits)),
               ("heatmap smoothing (cells)", counts(str(f.get("smooth_used", "?")) for f in fits)),
               ("image aggregator", counts(str(f.get("aggregator", "?")) for f in fits))]
    features = {row[6] for row in rows}
    if len(features) == 1:  # the same in every fold: say it once instead of a wide repeated column
        choices.append(("image features", f"{features.pop()} (all folds)"))
        columns.pop(6)
        rows = [row[:6] + row[7:] for row in rows]
    else:
        choices.append(("image features", counts(row[6] for row in rows)))
    return {"n_fits": len(fits), "choices": choices, "columns": columns, "rows": rows}


def _first_repeat_rows(predictions_csv: Path) -> dict[str, dict]:
    """id -> its predictions.csv row in the lowest repeat (the heatmap figures come from repeat 0)."""
    best: dict[str, dict] = {}
    with open(predictions_csv, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            try:
                repeat = int(float(row.get("repeat") or 0))
            except ValueError:
                continue
            if row.get("id") and (row["id"] not in best or repeat < best[row["id"]]["_repeat"]):
                best[row["id"]] = {**row, "_repeat": repeat}
    return best


def _hit(value: str | None) -> bool | None:
    word = (value or "").strip().lower()
    if word in ("1", "1.0", "true", "yes"):
        return True
    if word in ("0", "0.0", "false", "no"):
        return False
    return None


def _is_png(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(len(PNG_SIGNATURE)) == PNG_SIGNATURE
    except OSError:
        return False


def heatmap_entries(run_dir: Path) -> tuple[list[HeatmapEntry], list[str]]:
    """figures/heatmaps/*.png with captions from predictions.csv (true and predicted class, localisation hit),
    and the names of files skipped because they are not PNG images (the page says so instead of breaking)."""
    paths = sorted(p for p in (Path(run_dir) / HEATMAPS_DIR).glob("*.png") if p.is_file())
    good = [p for p in paths if _is_png(p)]
    skipped = [p.name for p in paths if p not in good]
    if not good:
        return [], skipped
    predictions = Path(run_dir) / "predictions.csv"
    rows = _first_repeat_rows(predictions) if predictions.is_file() else {}
    entries = []
    for path in good:
        image_id = path.stem
        row = rows.get(image_id)
        if row is None:
            entries.append(HeatmapEntry(image_id, "not found in predictions.csv", path))
            continue
        caption = (f"true class {row.get('y_true', '?')}, predicted {row.get('y_pred', '?')} "
                   f"(test image in repeat {row['_repeat']}, fold {row.get('fold', '?')})")
        entries.append(HeatmapEntry(image_id, caption, path, _hit(row.get("localisation_hit"))))
    return entries, skipped


def _number_items(block) -> list[tuple[str, str]]:
    if not isinstance(block, dict):
        return []
    return [(str(k).replace("_", " "), fmt(v) if isinstance(v, float) else str(v)) for k, v in block.items()
            if is_number(v)]


def lesion_context(run_dir: Path, metrics: dict) -> dict | None:
    """Everything the report template's lesion section needs, or None for runs that are not lesion runs."""
    if not is_lesion_run(metrics):
        return None
    settings = (metrics.get("lesion") or {}).get("settings") if isinstance(metrics.get("lesion"), dict) else None
    heatmaps, skipped = heatmap_entries(run_dir)
    boot = next((b["metrics"].get("bootstrap") for b in metrics["tasks"].values()
                 if isinstance(b, dict) and isinstance(b.get("metrics"), dict)), None)
    return {
        "columns": TASK_COLUMNS,
        "task_rows": [r.cells for r in lesion_task_rows(metrics)],
        "n_repeats": max((len(r.per_repeat) for r in lesion_task_rows(metrics)), default=0),
        "bootstrap": f"{boot['n']} resamples of {boot.get('unit', 'patient')}s"
        if isinstance(boot, dict) and boot.get("n") else "",
        "localisation": localisation_summary(metrics),
        "ablation": _number_items(metrics.get("ablation_fixed_aggregation_normal_vs_abnormal_auc")),
        "leak_check": _number_items(metrics.get("leak_check")),
        "settings": [(str(k).replace("_", " "), ", ".join(map(str, v)) if isinstance(v, list) else str(v))
                     for k, v in settings.items()] if isinstance(settings, dict) else [],
        "fits": fits_summary(metrics),
        "heatmaps": heatmaps,
        "skipped_heatmaps": skipped,
    }
