"""The lesion model's run folder in the report, the `mammokit run` summary and the comparison page.

The run folder has the shape mammokit.models.lesion writes (metrics.json with "tasks", "localisation",
"headline", "fits", "lesion"; predictions.csv with peak and localisation_hit columns; figures/heatmaps/*.png),
built small from real mini-MIAS images and patients. Its AUCs are computed from its own predictions with
scikit-learn, so every number the page shows is checked against an independent computation.
"""
from __future__ import annotations

import base64
import csv
import html
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image as PILImage
from sklearn.metrics import roc_auc_score

from mammokit.cli._run import _print_summary, lesion_tables
from mammokit.constants import default_mias_dir
from mammokit.datasets import load_mias
from mammokit.report import (
    comparison_rows,
    lesion_task_rows,
    localisation_summary,
    task_comparison_rows,
    write_comparison,
    write_report,
)

pytestmark = pytest.mark.xdist_group("report_lesion")

CLASSES = ("normal", "benign", "malignant")
PER_CLASS_IMAGES = {"normal": 6, "benign": 4, "malignant": 4}
REPEATS, FOLDS = 2, 2
BASE_FIGURES = 5  # confusion matrix, ROC, PR, reliability, prediction grid
TASK_KEYS = ("normal_vs_abnormal", "benign_vs_malignant", "3class")
LESION_KEYS = ("headline", "tasks", "localisation", "fits", "lesion", "ablation_fixed_aggregation_normal_vs_abnormal_auc",
               "leak_check")


def _records():
    records = load_mias(default_mias_dir(), check_size=False)
    chosen = []
    for label, n in PER_CLASS_IMAGES.items():
        chosen += [r for r in records if r.label == label][:n]
    return chosen


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _task_view(y3: np.ndarray, p3: np.ndarray, task: str):
    """(row mask, binary/3-class truth, scores) for one task, as the lesion runner defines them."""
    if task == "3class":
        return np.ones(len(y3), bool), y3, p3
    if task == "normal_vs_abnormal":
        return np.ones(len(y3), bool), (y3 > 0).astype(int), 1 - p3[:, 0]
    keep = y3 > 0
    return keep, (y3[keep] == 2).astype(int), p3[keep, 2] / (p3[keep, 1] + p3[keep, 2])


def _auc(y, s) -> float:
    return float(roc_auc_score(y, s, multi_class="ovr") if s.ndim == 2 else roc_auc_score(y, s))


def _ci(value: float, rng) -> list[float]:
    return [round(max(value - rng.uniform(0.04, 0.1), 0.0), 6), round(min(value + rng.uniform(0.04, 0.1), 1.0), 6)]


def make_lesion_run(root: Path, *, name: str = "mias-lesion", seed: int = 0) -> Path:
    """A lesion-model run folder: 14 real MIAS images, 2 repeats x 2 folds, 3 tiny heatmap PNGs."""
    rng = np.random.default_rng(seed)
    records = _records()
    rows, y3 = [], []
    for repeat in range(REPEATS):
        for k, rec in enumerate(records):
            hit = "" if rec.label == "normal" else str((k + repeat) % 2)
            rows.append({"id": rec.id, "patient": rec.patient, "repeat": repeat, "fold": (k + repeat) % FOLDS,
                         "synthetic": 0, "path": str(rec.path), "localisation_hit": hit})
            y3.append(CLASSES.index(rec.label))
    y3 = np.array(y3)
    logits = rng.normal(0.0, 1.0, (len(rows), 3))
    logits[np.arange(len(rows)), y3] += 1.0
    p3 = _softmax(logits)
    for row, t, p in zip(rows, y3, p3):
        row.update(y_true=CLASSES[t], y_pred=CLASSES[int(p.argmax())], peak_x="100.0", peak_y="200.0")
        row.update({f"prob_{c}": f"{v:.6f}" for c, v in zip(CLASSES, p)})
    p3 = np.array([[float(r[f"prob_{c}"]) for c in CLASSES] for r in rows])  # what the CSV says
    repeat_of = np.array([r["repeat"] for r in rows])

    tasks = {}
    for task in TASK_KEYS:
        per_repeat = []
        for rep in range(REPEATS):
            keep, y, s = _task_view(y3[repeat_of == rep], p3[repeat_of == rep], task)
            per_repeat.append({"repeat": rep, "accuracy": float((y3[repeat_of == rep] == p3[repeat_of == rep]
                                                                 .argmax(axis=1)).mean()),
                               "macro_roc_auc": _auc(y, s)})
        keep, y, s = _task_view(y3, p3, task)
        pooled = _auc(y, s)
        tasks[task] = {
            "classes": list(CLASSES) if task == "3class" else
            (["normal", "abnormal"] if task == "normal_vs_abnormal" else ["benign", "malignant"]),
            "n_test_rows": int(keep.sum()),
            "metrics": {"macro_roc_auc": {"value": pooled, "ci": _ci(pooled, rng)},
                        "accuracy": {"value": 0.5, "ci": [0.4, 0.6]},
                        "bootstrap": {"n": 200, "seed": 0, "level": 0.95, "unit": "patient"}},
            "per_repeat": per_repeat,
            "mean_of_repeats": {"macro_roc_auc": float(np.mean([r["macro_roc_auc"] for r in per_repeat]))},
        }
    loc_per_repeat = []
    for rep in range(REPEATS):
        hits = [int(r["localisation_hit"]) for r in rows if r["repeat"] == rep and r["localisation_hit"] != ""]
        loc_per_repeat.append({"repeat": rep, "hit_rate": float(np.mean(hits)), "n": len(hits)})
    fits = [{"repeat": r, "fold": f, "n_train": 7, "n_test": 7, "features_used": ["abn_max", "abn_topk"],
             "aggregator": "hierarchical" if (r, f) != (1, 1) else "multinomial",
             "sizes_used": [768, 1024] if f == 0 else [1024], "smooth_used": 3 * f,
             "selection": {"768+1024/smooth0": {"inner_auc": 0.61}, "1024/smooth3": {"inner_auc": 0.72}}}
            for r in range(REPEATS) for f in range(FOLDS)]

    run_dir = root / name
    (run_dir / "figures" / "heatmaps").mkdir(parents=True)
    with open(run_dir / "predictions.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["id", "patient", "repeat", "fold", "synthetic", "path", "y_true",
                                                "y_pred", *[f"prob_{c}" for c in CLASSES], "peak_x", "peak_y",
                                                "localisation_hit"])
        writer.writeheader()
        writer.writerows(rows)
    main = tasks["3class"]
    metrics = {
        "name": name, "protocol": "cv", "task": "3class", "classes": list(CLASSES), "positive_class": "malignant",
        "leaky": False, "leak": None, "seed": seed, "n_images": len(records),
        "n_patients": len({r.patient for r in records}), "n_test_rows": len(rows), "model": "lesion",
        "backbone": "efficientnet_lite0", "balance": "class_weight", "metrics": main["metrics"],
        "calibration": {"method": "none", "before": {"brier": 0.6, "ece": 0.1}, "after": {"brier": 0.6, "ece": 0.1}},
        "per_repeat": main["per_repeat"], "per_repeat_mean": main["mean_of_repeats"],
        "headline": {"normal_vs_abnormal_roc_auc": tasks["normal_vs_abnormal"]["mean_of_repeats"]["macro_roc_auc"]},
        "tasks": tasks,
        "localisation": {"hit_rate": float(np.mean([r["hit_rate"] for r in loc_per_repeat])),
                         "n": loc_per_repeat[0]["n"], "per_repeat": loc_per_repeat,
                         "definition": "share of abnormal test images whose heatmap peak is inside the lesion"},
        "ablation_fixed_aggregation_normal_vs_abnormal_auc": {"max": 0.61, "topk_mean": 0.62},
        "leak_check": {"test_images_in_training": 0},
        "fits": fits,
        "lesion": {"settings": {"backbone": "efficientnet_lite0", "sizes": [768, 1024], "top_k": 3}},
        "timing_s": {"features": 1.0, "fit_evaluate": 2.0},
    }
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    (run_dir / "config.yaml").write_text(yaml.safe_dump({"name": name, "seed": seed, "model": {"type": "lesion"},
                                                         "protocol": {"name": "cv", "folds": FOLDS,
                                                                      "repeats": REPEATS}}))
    first = {label: next(r for r in records if r.label == label) for label in CLASSES}
    for k, rec in enumerate(first.values()):  # tiny but real PNGs, one colour each
        PILImage.new("RGB", (48, 27), (60 * k, 120, 200 - 60 * k)).save(run_dir / "figures" / "heatmaps" /
                                                                         f"{rec.id}.png")
    return run_dir


def strip_lesion_keys(run_dir: Path) -> Path:
    """The same folder as a whole-image run would write it (heatmap folder left in place on purpose)."""
    metrics = json.loads((run_dir / "metrics.json").read_text())
    for key in LESION_KEYS:
        metrics.pop(key)
    metrics["model"] = "dense_head"
    (run_dir / "metrics.json").write_text(json.dumps(metrics))
    return run_dir


@pytest.fixture(scope="module")
def lesion_run(tmp_path_factory) -> Path:
    run_dir = make_lesion_run(tmp_path_factory.mktemp("runs"))
    write_report(run_dir)
    return run_dir


def _page(run_dir: Path) -> str:
    return (run_dir / "report.html").read_text(encoding="utf-8")


def _table(page: str, table_id: str) -> list[list[str]]:
    """Cell texts of the table with that id, one list per row (header row included)."""
    body = re.search(rf'<table id="{table_id}"[^>]*>(.*?)</table>', page, flags=re.DOTALL)
    assert body, f"no table {table_id}"
    return [[html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<t[hd]>(.*?)</t[hd]>", row, re.DOTALL)]
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body.group(1), flags=re.DOTALL)]


def _csv_rows(run_dir: Path) -> list[dict]:
    with open(run_dir / "predictions.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def _inlined_pngs(page: str) -> list[bytes]:
    return [base64.b64decode(p) for p in re.findall(r'<img[^>]*src="data:image/png;base64,([^"]+)"', page)]


# --- report.html ----------------------------------------------------------------------------------


@pytest.mark.parametrize("task, label", [("normal_vs_abnormal", "Normal vs abnormal"),
                                         ("benign_vs_malignant", "Benign vs malignant"),
                                         ("3class", "3-class macro")])
def test_task_table_shows_mean_repeats_and_pooled_ci(lesion_run, task, label):
    metrics = json.loads((lesion_run / "metrics.json").read_text())
    block = metrics["tasks"][task]
    rows = _table(_page(lesion_run), "lesion-tasks")
    assert rows[0] == ["task", "test rows", "mean over repeats", "per repeat", "pooled", "pooled 95% CI"]
    row = next(r for r in rows[1:] if r[0].startswith(label))
    lo, hi = block["metrics"]["macro_roc_auc"]["ci"]
    assert row[1:] == [str(block["n_test_rows"]), f"{block['mean_of_repeats']['macro_roc_auc']:.3f}",
                       ", ".join(f"{r['macro_roc_auc']:.3f}" for r in block["per_repeat"]),
                       f"{block['metrics']['macro_roc_auc']['value']:.3f}", f"{lo:.3f}\u2013{hi:.3f}"]
    # independent of metrics.json: the pooled AUC recomputed from predictions.csv
    preds = _csv_rows(lesion_run)
    y3 = np.array([CLASSES.index(r["y_true"]) for r in preds])
    p3 = np.array([[float(r[f"prob_{c}"]) for c in CLASSES] for r in preds])
    _, y, s = _task_view(y3, p3, task)
    assert row[4] == f"{_auc(y, s):.3f}"


def test_benign_vs_malignant_counts_only_abnormal_rows(lesion_run):
    rows = {r[0]: r for r in _table(_page(lesion_run), "lesion-tasks")[1:]}
    abnormal = 2 * (PER_CLASS_IMAGES["benign"] + PER_CLASS_IMAGES["malignant"])
    assert rows["Benign vs malignant ROC-AUC"][1] == str(abnormal)
    assert rows["Normal vs abnormal ROC-AUC"][1] == str(REPEATS * sum(PER_CLASS_IMAGES.values()))


def test_localisation_hit_rate_per_repeat(lesion_run):
    page = _page(lesion_run)
    loc = json.loads((lesion_run / "metrics.json").read_text())["localisation"]
    assert f"Hit rate <strong>{loc['hit_rate']:.3f}</strong>" in page
    assert f"{loc['n']} images scored per repeat" in page
    rows = _table(page, "lesion-localisation")
    assert rows[1:] == [[str(r["repeat"]), f"{r['hit_rate']:.3f}", str(r["n"])] for r in loc["per_repeat"]]


@pytest.mark.parametrize("label, hit_words", [
    ("normal", "no lesion coordinates to score the heatmap peak against"),
    ("benign", "the heatmap peak falls outside the annotated lesion"),  # first benign, repeat 0: hit "0"
    ("malignant", None),  # whatever predictions.csv says for repeat 0
])
def test_heatmaps_are_inlined_with_captions(lesion_run, label, hit_words):
    page = _page(lesion_run)
    preds = [r for r in _csv_rows(lesion_run) if r["repeat"] == "0"]
    row = next(r for r in preds if r["y_true"] == label)
    if hit_words is None:
        hit_words = {"1": "the heatmap peak falls inside the annotated lesion",
                     "0": "the heatmap peak falls outside the annotated lesion"}[row["localisation_hit"]]
    figure = re.search(rf'<figure class="heatmap" id="heatmap-{row["id"]}">(.*?)</figure>', page, flags=re.DOTALL)
    assert figure, row["id"]
    caption = html.unescape(re.sub(r"<[^>]+>", "", figure.group(1)))
    assert f"{row['id']}: true class {label}, predicted {row['y_pred']}" in " ".join(caption.split())
    assert hit_words in caption
    payload = re.search(r'src="data:image/png;base64,([^"]+)"', figure.group(1)).group(1)
    assert base64.b64decode(payload) == (lesion_run / "figures" / "heatmaps" / f"{row['id']}.png").read_bytes()


def test_report_is_self_contained_with_figures_and_heatmaps(lesion_run):
    page = _page(lesion_run)
    assert len(_inlined_pngs(page)) == BASE_FIGURES + 3
    assert not re.search(r"https?://", page)
    assert all(r.startswith(("data:", "#")) for r in re.findall(r'\b(?:src|href)="([^"]*)"', page))


def test_fits_summary_counts_inner_cv_choices(lesion_run):
    page = _page(lesion_run)
    summary = dict(r for r in _table(page, "lesion-fits-summary")[1:])
    assert summary["input sizes"] == "768+1024 (2\u00d7), 1024 (2\u00d7)"
    assert summary["heatmap smoothing (cells)"] == "0 (2\u00d7), 3 (2\u00d7)"
    assert summary["image aggregator"] == "hierarchical (3\u00d7), multinomial (1\u00d7)"
    assert summary["image features"] == "abn_max, abn_topk (all folds)"
    per_fold = _table(page, "lesion-fits")
    assert len(per_fold) == 1 + REPEATS * FOLDS and "image features" not in per_fold[0]
    # the chosen candidate's inner AUC, looked up by its sizes/smoothing key
    assert [r[per_fold[0].index("inner CV AUC")] for r in per_fold[1:]] == ["0.610", "0.720"] * REPEATS


def test_run_without_lesion_keys_has_no_lesion_section(lesion_run, tmp_path):
    run_dir = strip_lesion_keys(Path(shutil.copytree(lesion_run, tmp_path / "plain")))
    page = write_report(run_dir).read_text()
    assert 'id="lesion' not in page and "heatmap" not in page.lower() and "Localisation" not in page
    assert len(_inlined_pngs(page)) == BASE_FIGURES  # heatmap PNGs in the folder are not picked up


@pytest.mark.parametrize("break_it, expected", [
    ("text_png", "Skipped heatmap file(s) that are not PNG images: zz-notes.png."),
    ("unknown_id", "not found in predictions.csv"),
    ("malformed_tasks", "Benign vs malignant ROC-AUC</td><td>\u2013</td><td>\u2013</td>"),
])
def test_bad_lesion_inputs_still_render_and_say_so(lesion_run, tmp_path, break_it, expected):
    """Invalid inputs: a text file named .png, a heatmap of an image not in predictions.csv, task blocks with
    missing numbers. The page is still written and says what it could not show."""
    run_dir = Path(shutil.copytree(lesion_run, tmp_path / "run"))
    heatmaps = run_dir / "figures" / "heatmaps"
    if break_it == "text_png":
        (heatmaps / "zz-notes.png").write_text("not an image")
    elif break_it == "unknown_id":
        shutil.copy(next(heatmaps.glob("*.png")), heatmaps / "mdb999.png")
    else:
        metrics = json.loads((run_dir / "metrics.json").read_text())
        metrics["tasks"]["benign_vs_malignant"] = {"metrics": {"macro_roc_auc": "n/a"}, "per_repeat": "oops"}
        metrics["tasks"]["3class"].pop("per_repeat")
        (run_dir / "metrics.json").write_text(json.dumps(metrics))
    page = write_report(run_dir).read_text()
    assert expected in page
    n_heatmaps = 4 if break_it == "unknown_id" else 3
    assert len(_inlined_pngs(page)) == BASE_FIGURES + n_heatmaps


# --- helpers shared with the CLI ---------------------------------------------------------------------


@pytest.mark.parametrize("metrics, n_rows, has_loc", [
    ("lesion", 3, True),
    ({"tasks": {"3class": {"metrics": {"macro_roc_auc": {"value": 0.7, "ci": [0.6, 0.8]}}}}}, 1, False),
    ({"tasks": "not a dict", "localisation": ["nope"]}, 0, False),  # invalid shapes: nothing, no crash
    ({}, 0, False),
])
def test_lesion_task_rows_and_localisation(lesion_run, metrics, n_rows, has_loc):
    if metrics == "lesion":
        metrics = json.loads((lesion_run / "metrics.json").read_text())
    rows = lesion_task_rows(metrics)
    assert len(rows) == n_rows
    assert (localisation_summary(metrics) is not None) == has_loc
    if n_rows == 1:
        assert rows[0].cells == ["3-class macro ROC-AUC (one-vs-rest)", "\u2013", "\u2013", "\u2013", "0.700",
                                 "0.600\u20130.800"]


def test_run_summary_prints_tasks_and_localisation(lesion_run, capsys):
    metrics = json.loads((lesion_run / "metrics.json").read_text())
    _print_summary(metrics, lesion_run)
    out = capsys.readouterr().out
    assert "lesion model: image-level ROC-AUC" in out
    for task, label in (("normal_vs_abnormal", "normal vs abnormal"), ("benign_vs_malignant", "benign vs malignant"),
                        ("3class", "3-class macro")):
        block = metrics["tasks"][task]
        lo, hi = block["metrics"]["macro_roc_auc"]["ci"]
        line = next(li for li in out.splitlines() if label in li)
        assert f"{block['mean_of_repeats']['macro_roc_auc']:.3f}" in line
        assert f"{block['metrics']['macro_roc_auc']['value']:.3f} [{lo:.3f}, {hi:.3f}]" in line
    loc = metrics["localisation"]
    flat = " ".join(out.split())
    assert f"localisation hit rate {loc['hit_rate']:.3f}" in flat
    assert all(f"{r['hit_rate']:.3f} (n={r['n']})" in flat for r in loc["per_repeat"])


def test_run_summary_of_a_whole_image_run_has_no_lesion_table(lesion_run, tmp_path, capsys):
    run_dir = strip_lesion_keys(Path(shutil.copytree(lesion_run, tmp_path / "plain")))
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert lesion_tables(metrics) == []
    _print_summary(metrics, run_dir)
    out = capsys.readouterr().out
    assert "lesion model" not in out and "localisation" not in out and "macro roc auc" in out


# --- comparison ----------------------------------------------------------------------------------------


def test_comparison_of_whole_image_and_lesion_runs(lesion_run, tmp_path):
    whole = Path(shutil.copytree(lesion_run, tmp_path / "runs" / "whole"))
    strip_lesion_keys(whole)
    metrics = json.loads((whole / "metrics.json").read_text())
    metrics["name"] = "mias-whole"
    (whole / "metrics.json").write_text(json.dumps(metrics))
    page = write_comparison([whole, lesion_run], tmp_path / "cmp", title="whole-image vs lesion-aware").read_text()
    lesion_metrics = json.loads((lesion_run / "metrics.json").read_text())

    # the ordinary comparison is unchanged: both runs compared on their top-level 3-class metrics
    assert [r["macro_roc_auc"] for r in comparison_rows([whole, lesion_run])] == \
        [metrics["metrics"]["macro_roc_auc"], lesion_metrics["metrics"]["macro_roc_auc"]]
    rows = _table(page, "task-comparison")
    assert rows[0][:2] == ["run", "model"] and rows[0][-1] == "localisation hit rate"
    by_name = {r[0]: r for r in rows[1:]}
    assert by_name["mias-whole"][2:] == ["not measured", "not measured",
                                         by_name["mias-lesion"][4], "\u2013"]  # same top-level 3-class numbers
    nva = lesion_metrics["tasks"]["normal_vs_abnormal"]["metrics"]["macro_roc_auc"]
    assert by_name["mias-lesion"][2] == f"{nva['value']:.3f} [{nva['ci'][0]:.3f}\u2013{nva['ci'][1]:.3f}]"
    loc = lesion_metrics["localisation"]
    assert by_name["mias-lesion"][-1] == f"{loc['hit_rate']:.3f} (n={loc['n']})"

    saved = json.loads((tmp_path / "cmp" / "comparison.json").read_text())
    assert [r["model"] for r in saved["image_level_tasks"]] == ["dense_head", "lesion"]
    assert "## Image-level tasks" in (tmp_path / "cmp" / "comparison.md").read_text()


def test_comparison_without_lesion_runs_has_no_task_table(lesion_run, tmp_path):
    runs = [strip_lesion_keys(Path(shutil.copytree(lesion_run, tmp_path / "runs" / n))) for n in ("a", "b")]
    assert task_comparison_rows(runs) == []
    page = write_comparison(runs, tmp_path / "cmp").read_text()
    assert "task-comparison" not in page
    assert "image_level_tasks" not in json.loads((tmp_path / "cmp" / "comparison.json").read_text())
    assert "Image-level tasks" not in (tmp_path / "cmp" / "comparison.md").read_text()
