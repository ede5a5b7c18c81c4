"""mammokit.report: figures, self-contained report.html, comparison of runs, and the `report` CLI.

Run folders are built the way the experiment writes them (config.yaml, metrics.json, predictions.csv),
small but real-shaped: real mini-MIAS images and patients, probabilities from a seeded noisy scorer,
metrics computed from those predictions with scikit-learn.
"""
from __future__ import annotations

import base64
import csv
import html
import io
import json
import re
import shutil
from pathlib import Path

import markupsafe
import numpy as np
import pytest
import yaml
from PIL import Image as PILImage
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, roc_auc_score

from mammokit.cli import main
from mammokit.constants import RESEARCH_DISCLAIMER, default_mias_dir
from mammokit.datasets import load_mias
from mammokit.errors import InputFileError, MammokitError
from mammokit.report import (
    comparison_rows,
    comparison_table,
    framed_thumbnail,
    load_run,
    panel_colour,
    write_comparison,
    write_report,
)
from mammokit.report._grid import RIGHT_RGB, WRONG_RGB, select_panels

# One xdist worker runs the whole module, so the reported run folders below are built once.
pytestmark = pytest.mark.xdist_group("report")

CLASSES = ("normal", "benign", "malignant")
PER_CLASS_IMAGES = {"normal": 14, "benign": 10, "malignant": 10}
FIGURES = ("confusion_matrix", "roc", "pr", "reliability", "prediction_grid")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# HTML injection, plus broken matplotlib mathtext ($...$) for the comparison chart's legend.
MALICIOUS_NAME = '<script>alert("pwned")</script><img src="http://evil.example/x.png" onerror=alert(1)> $\\frac{x$'


# --- building real-shaped run folders -----------------------------------------------------------


def _mias_records():
    records = load_mias(default_mias_dir(), check_size=False)
    chosen = []
    for label, n in PER_CLASS_IMAGES.items():
        chosen += [r for r in records if r.label == label][:n]
    return chosen


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _metric(value: float, rng) -> dict:
    lo, hi = value - rng.uniform(0.03, 0.1), value + rng.uniform(0.03, 0.1)
    return {"value": round(value, 6), "ci": [round(max(lo, 0.0), 6), round(min(hi, 1.0), 6)]}


TASK_CLASSES = {"3class": CLASSES, "normal_vs_abnormal": ("normal", "abnormal")}


def make_run(root: Path, protocol: str, *, name: str | None = None, repeats: int = 1, folds: int = 1,
             raw: bool = True, n_synthetic: int = 0, seed: int = 0, task: str = "3class") -> Path:
    """A run folder as the experiment writes it, from real MIAS records."""
    rng = np.random.default_rng(seed)
    records = _mias_records()
    classes = TASK_CLASSES[task]
    rows, y_true = [], []
    for repeat in range(repeats):
        for rec in records:
            rows.append({"id": rec.id, "patient": rec.patient, "repeat": repeat,
                         "fold": int(rec.patient[-3:]) % folds, "synthetic": 0, "path": str(rec.path)})
            label = rec.label if rec.label in classes else "abnormal"
            y_true.append(classes.index(label))
    for k in range(n_synthetic):
        rows.append({"id": f"synthetic-{k:04d}", "patient": "", "repeat": 0, "fold": 0, "synthetic": 1, "path": ""})
        y_true.append(1 + k % (len(classes) - 1))  # SMOTE makes minority-class rows
    y_true = np.array(y_true)
    logits = rng.normal(0.0, 1.0, (len(rows), len(classes)))
    logits[np.arange(len(rows)), y_true] += 1.3
    raw_prob = _softmax(2.5 * logits)  # over-confident before calibration
    prob = _softmax(logits)
    y_pred = prob.argmax(axis=1)
    for row, t, p, pr, rp in zip(rows, y_true, y_pred, prob, raw_prob):
        row.update(y_true=classes[t], y_pred=classes[p])
        row.update({f"prob_{c}": f"{v:.6f}" for c, v in zip(classes, pr)})
        if raw:
            row.update({f"raw_prob_{c}": f"{v:.6f}" for c, v in zip(classes, rp)})
    run_dir = root / (name if name and "/" not in name and "<" not in name else f"run-{protocol}")
    run_dir.mkdir(parents=True)
    with open(run_dir / "predictions.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    pos = len(classes) - 1
    metrics = {
        "accuracy": _metric(accuracy_score(y_true, y_pred), rng),
        "balanced_accuracy": _metric(balanced_accuracy_score(y_true, y_pred), rng),
        "macro_f1": _metric(f1_score(y_true, y_pred, average="macro"), rng),
        "macro_roc_auc": _metric(roc_auc_score(y_true, prob[:, 1] if len(classes) == 2 else prob,
                                               multi_class="ovr"), rng),
        "sensitivity": _metric(float(((y_pred == pos) & (y_true == pos)).sum() / (y_true == pos).sum()), rng),
        "per_class": {c: {"precision": 0.5 + 0.1 * k, "recall": 0.4 + 0.1 * k, "f1": 0.45, "roc_auc": 0.7,
                          "pr_auc": 0.5} for k, c in enumerate(classes)},
        "per_class_ci": {c: {"precision": [0.3, 0.7], "recall": [0.2, 0.6]} for c in classes},
        "confusion_matrix": [[int(((y_true == a) & (y_pred == b)).sum()) for b in range(pos + 1)]
                             for a in range(pos + 1)],
    }
    leaky = protocol == "module1"
    n_test = len(rows)
    doc = {
        "name": name or f"mias-{protocol}", "protocol": protocol, "task": task, "classes": list(classes),
        "positive_class": classes[-1], "leaky": leaky,
        "leak": {"test_rows": n_test, "synthetic_test_rows": n_synthetic,
                 "synthetic_test_fraction": n_synthetic / n_test,
                 "test_rows_interpolated_from_training_images": n_synthetic - 1,
                 "real_test_images_with_other_breast_in_training": 5,
                 "note": "synthetic rows were created from ALL images before the split"} if leaky else None,
        "seed": seed, "n_images": len(records), "n_patients": len({r.patient for r in records}),
        "n_test_rows": n_test, "model": "dense_head", "backbone": "efficientnet_lite0", "balance": "smote",
        "metrics": metrics,
        "calibration": {"method": "temperature", "before": {"brier": 0.31, "ece": 0.17},
                        "after": {"brier": 0.27, "ece": 0.06}},
        "per_repeat": [{"repeat": r, "accuracy": 0.5 + 0.01 * r, "macro_roc_auc": 0.6} for r in range(repeats)],
        "timing_s": {"features": 1.5, "fit_evaluate": 3.25},
    }
    (run_dir / "metrics.json").write_text(json.dumps(doc, indent=2))
    config = {"name": doc["name"], "seed": seed, "task": task,
              "features": {"backbone": "efficientnet_lite0", "size": 224, "mode": "imagenet", "crop": True,
                           "orient": True},
              "protocol": {"name": protocol, "folds": folds, "repeats": repeats}}
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config))
    return run_dir


RUN_SHAPES = {
    "module1": {"n_synthetic": 12},
    "module2": {},
    "cv": {"repeats": 2, "folds": 3},
}


@pytest.fixture(scope="module")
def reported_runs(tmp_path_factory) -> dict[str, Path]:
    """The three protocols' run folders, each reported once (shared by the read-only tests below)."""
    root = tmp_path_factory.mktemp("runs")
    runs = {}
    for protocol, shape in RUN_SHAPES.items():
        runs[protocol] = make_run(root, protocol, **shape)
        write_report(runs[protocol])
    return runs


def _page(run_dir: Path) -> str:
    return (run_dir / "report.html").read_text(encoding="utf-8")


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE
    with PILImage.open(io.BytesIO(data)) as im:
        im.verify()
    with PILImage.open(io.BytesIO(data)) as im:
        return im.size


def assert_self_contained(page: str, *, urls_in_text: bool = False) -> int:
    """Every src/href is a data: URI or an in-page anchor, nothing points outside; returns the image count."""
    if not urls_in_text:
        assert not re.search(r"https?://", page, flags=re.IGNORECASE)
    refs = re.findall(r"""\b(?:src|href)\s*=\s*["']([^"']*)["']""", page, flags=re.IGNORECASE)
    assert all(r.startswith(("data:", "#")) for r in refs), [r[:40] for r in refs]
    images = re.findall(r"""<img[^>]*\bsrc="data:image/png;base64,([^"]+)\"""", page)
    for payload in images:
        _png_size(base64.b64decode(payload))
    return len(images)


# --- figures ------------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", list(RUN_SHAPES))
def test_figures_are_valid_pngs_of_plausible_size(reported_runs, protocol):
    for fig in FIGURES:
        data = (reported_runs[protocol] / "figures" / f"{fig}.png").read_bytes()
        width, height = _png_size(data)
        assert 300 <= width <= 2000 and 250 <= height <= 2000, (fig, width, height)
        assert len(data) > 8_000, fig  # a drawn figure, not an empty canvas


def test_cv_figures_pool_repeat_zero_and_say_so(reported_runs):
    run = load_run(reported_runs["cv"])
    rows, note = run.reported_predictions()
    assert len(run.predictions) == 2 * len(rows)
    assert set(rows.repeat.tolist()) == {0}
    assert "repeat 0" in note and "3 folds" in note
    assert "Pooled out-of-fold predictions of repeat 0" in _page(reported_runs["cv"])


def test_reliability_caption_depends_on_raw_probabilities(tmp_path, reported_runs):
    assert "before (uncalibrated) and after calibration" in _page(reported_runs["module2"])
    no_raw = make_run(tmp_path, "module2", raw=False)
    assert load_run(no_raw).predictions.raw_prob is None
    page = write_report(no_raw).read_text()
    assert "did not write uncalibrated probabilities" in page
    assert (no_raw / "figures" / "reliability.png").stat().st_size > 8_000


# --- the prediction grid --------------------------------------------------------------------------


@pytest.mark.parametrize("y_true, y_pred, expected", [
    ("malignant", "malignant", RIGHT_RGB),
    ("benign", "malignant", WRONG_RGB),
    (0, 0, RIGHT_RGB),
    (2, 1, WRONG_RGB),
])
def test_panel_colour(y_true, y_pred, expected):
    assert panel_colour(y_true, y_pred) == expected


@pytest.mark.parametrize("colour", [RIGHT_RGB, WRONG_RGB])
def test_framed_thumbnail_border_and_interior(colour):
    view = np.arange(40 * 30, dtype=np.uint8).reshape(40, 30)
    framed = framed_thumbnail(view, colour, frame=4)
    assert framed.shape == (48, 38, 3) and framed.dtype == np.uint8
    for edge in (framed[0], framed[-1], framed[:, 0], framed[:, -1], framed[3], framed[:, 3]):
        assert (edge == colour).all()
    assert (framed[4:-4, 4:-4] == view[..., None]).all()


def test_framed_thumbnail_rejects_non_grey():
    with pytest.raises(ValueError, match="2-D grey"):
        framed_thumbnail(np.zeros((8, 8, 3), dtype=np.uint8), RIGHT_RGB)


def test_grid_marks_right_and_wrong_and_skips_synthetic(reported_runs):
    run = load_run(reported_runs["module1"])
    preds, _ = run.reported_predictions()
    panels, notes = select_panels(preds, run.classes, run.path, run.config, seed=0)
    assert len(panels) == 16
    assert not any(p.id.startswith("synthetic-") for p in panels)
    assert any("12 synthetic" in n for n in notes)
    truth = {i: (CLASSES[t], CLASSES[p]) for i, t, p in zip(preds.ids, preds.y_true, preds.y_pred)}
    assert {p.correct for p in panels} == {True, False}  # the seeded scorer makes both kinds
    for panel in panels:
        true, pred = truth[panel.id]
        assert (panel.true, panel.pred, panel.correct) == (true, pred, true == pred)
        expected = RIGHT_RGB if true == pred else WRONG_RGB
        assert tuple(panel.thumbnail[0, 0]) == expected and tuple(panel.thumbnail[-1, -1]) == expected
        assert panel.thumbnail.shape[0] <= 128 + 12 and panel.thumbnail[10:-10, 10:-10].std() > 5  # a real image
    again, _ = select_panels(preds, run.classes, run.path, run.config, seed=0)
    assert [p.id for p in again] == [p.id for p in panels]  # seeded


def test_binary_task_report(tmp_path):
    run_dir = make_run(tmp_path, "cv", task="normal_vs_abnormal", repeats=2, folds=3)
    page = write_report(run_dir).read_text()
    assert assert_self_contained(page) == len(FIGURES)
    assert "Sensitivity (abnormal)" in page and "<td>abnormal</td>" in page
    run = load_run(run_dir)
    rows, _ = run.reported_predictions()
    panels, _ = select_panels(rows, run.classes, run_dir, run.config, seed=1)
    assert len(panels) == 16 and {p.true for p in panels} <= {"normal", "abnormal"}


def test_class_absent_from_test_rows(tmp_path):
    """A small hold-out can lack a class: its curves are left out and the legend says so."""
    run_dir = make_run(tmp_path, "module2")
    lines = (run_dir / "predictions.csv").read_text().splitlines()
    y_true = lines[0].split(",").index("y_true")
    kept = [lines[0]] + [line for line in lines[1:] if line.split(",")[y_true] != "malignant"]
    (run_dir / "predictions.csv").write_text("\n".join(kept) + "\n")
    write_report(run_dir)
    run = load_run(run_dir)
    assert 2 not in set(run.predictions.y_true.tolist())
    assert _png_size((run_dir / "figures" / "roc.png").read_bytes())[0] >= 300


def test_grid_skips_missing_images_and_says_so(tmp_path):
    run_dir = make_run(tmp_path, "module2")
    text = (run_dir / "predictions.csv").read_text()
    (run_dir / "predictions.csv").write_text(text.replace("mdb", "gone-mdb"))
    page = write_report(run_dir).read_text()
    assert "could not be found or read and were skipped" in page


# --- report.html ----------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", list(RUN_SHAPES))
def test_report_is_self_contained(reported_runs, protocol):
    assert assert_self_contained(_page(reported_runs[protocol])) == len(FIGURES)


@pytest.mark.parametrize("protocol", list(RUN_SHAPES))
def test_report_shows_metrics_with_cis_and_disclaimer(reported_runs, protocol):
    page = _page(reported_runs[protocol])
    metrics = json.loads((reported_runs[protocol] / "metrics.json").read_text())
    assert html.escape(RESEARCH_DISCLAIMER) in page
    for key in ("accuracy", "balanced_accuracy", "macro_f1", "macro_roc_auc", "sensitivity"):
        entry = metrics["metrics"][key]
        lo, hi = entry["ci"]
        assert f"<td>{entry['value']:.3f}</td><td>{lo:.3f}\u2013{hi:.3f}</td>" in page, key
    for k, name in enumerate(CLASSES):  # per-class value with its CI
        assert f"<td>{name}</td><td>{0.5 + 0.1 * k:.3f} (0.300\u20130.700)</td>" in page
    after = metrics["calibration"]["after"]
    assert f"{after['brier']:.3f}" in page and f"{after['ece']:.3f}" in page
    assert metrics["name"] in page


@pytest.mark.parametrize("protocol, leaky", [("module1", True), ("module2", False), ("cv", False)])
def test_leak_warning_only_for_leaky_runs(reported_runs, protocol, leaky):
    page = _page(reported_runs[protocol])
    assert ("LEAK WARNING" in page) is leaky
    if leaky:
        n_test = len(_mias_records()) + 12
        assert f"12 of {n_test} test rows ({100 * 12 / n_test:.1f}%) are synthetic" in page
        assert "11 test rows were interpolated from images that are also in training" in page
        assert markupsafe.escape("5 real test images have the same woman's other breast in training") in page
        assert "SMOTE was applied to the whole data set before it was split" in page
        assert "synthetic rows were created from ALL images before the split" in page


def test_run_name_is_html_escaped(tmp_path):
    run_dir = make_run(tmp_path, "module2", name=MALICIOUS_NAME)
    page = write_report(run_dir).read_text()
    escaped = str(markupsafe.escape(MALICIOUS_NAME))
    assert "<script>" not in page and "<img src=\"http" not in page
    assert escaped in page
    assert_self_contained(page, urls_in_text=True)  # the name's URL is inert text, never a src
    comparison = write_comparison([run_dir], tmp_path / "cmp").read_text()
    assert "<script>" not in comparison and escaped in comparison
    assert_self_contained(comparison, urls_in_text=True)


# --- invalid run folders ----------------------------------------------------------------------------


def _drop_column(run_dir: Path) -> None:
    lines = (run_dir / "predictions.csv").read_text().splitlines()
    keep = [i for i, c in enumerate(lines[0].split(",")) if c != "prob_benign"]
    (run_dir / "predictions.csv").write_text("\n".join(",".join(np.array(l.split(","))[keep]) for l in lines))


def _edit(file: str, old: str, new: str):
    def apply(run_dir: Path) -> None:
        path = run_dir / file
        text = path.read_text()
        assert old in text
        path.write_text(text.replace(old, new, 1))
    return apply


def _remove(file: str):
    return lambda run_dir: (run_dir / file).unlink()


def _header_only(run_dir: Path) -> None:
    path = run_dir / "predictions.csv"
    path.write_text(path.read_text().splitlines()[0] + "\n")


@pytest.mark.parametrize("break_it, file, message", [
    (_remove("metrics.json"), "metrics.json", "missing"),
    (_remove("predictions.csv"), "predictions.csv", "missing"),
    (_remove("config.yaml"), "config.yaml", "missing"),
    (_edit("metrics.json", "{", "{{"), "metrics.json", "not valid JSON"),
    (_edit("metrics.json", '"classes"', '"klasses"'), "metrics.json", "missing key 'classes'"),
    (_edit("config.yaml", "name:", "name: [unclosed\nx:"), "config.yaml", "not valid YAML"),
    (_drop_column, "predictions.csv", "missing column(s) prob_benign"),
    (_edit("predictions.csv", ",benign,", ",cyst,"), "predictions.csv", "'cyst' is not one of the classes"),
    (_edit("predictions.csv", ",0.", ",7."), "predictions.csv", "not a probability"),
    (_header_only, "predictions.csv", "has no prediction rows"),
])
def test_invalid_run_folder_gives_one_line_error_naming_the_file(tmp_path, break_it, file, message):
    run_dir = make_run(tmp_path, "module2")
    break_it(run_dir)
    with pytest.raises(InputFileError) as info:
        write_report(run_dir)
    text = str(info.value)
    assert "\n" not in text and file in text and message in text, text
    assert not (run_dir / "report.html").exists()


def test_missing_run_folder(tmp_path):
    with pytest.raises(MammokitError, match="not a run folder"):
        write_report(tmp_path / "no-such-run")


# --- comparison ---------------------------------------------------------------------------------------


def test_comparison_of_three_runs(reported_runs, tmp_path):
    dirs = [reported_runs[p] for p in ("module1", "module2", "cv")]
    page_path = write_comparison(dirs, tmp_path / "cmp", title="MIAS: Module 1 vs Module 2 vs CV")
    page = page_path.read_text()
    assert page_path.name == "comparison.html"
    assert assert_self_contained(page) == 1
    assert "LEAK WARNING" in page and html.escape(RESEARCH_DISCLAIMER) in page
    width, height = _png_size((tmp_path / "cmp" / "comparison.png").read_bytes())
    assert width >= 600 and height >= 300

    saved = json.loads((tmp_path / "cmp" / "comparison.json").read_text())
    assert [r["protocol"] for r in saved["runs"]] == ["module1", "module2", "cv"]
    assert [r["leaky"] for r in saved["runs"]] == [True, False, False]
    for row, run_dir in zip(saved["runs"], dirs):
        metrics = json.loads((run_dir / "metrics.json").read_text())["metrics"]
        for key in ("accuracy", "balanced_accuracy", "macro_f1", "macro_roc_auc"):
            assert row[key] == metrics[key]

    markdown = (tmp_path / "cmp" / "comparison.md").read_text()
    table_lines = [line for line in markdown.splitlines() if line.startswith("|")]
    assert len(table_lines) == 2 + 3 and "(LEAKY)" in table_lines[2] and "LEAKY" not in table_lines[3]

    header, body = comparison_table(comparison_rows(dirs))
    assert len(header) == 6 and len(body) == 3
    acc = saved["runs"][2]["accuracy"]
    assert body[2][2] == f"{acc['value']:.3f} [{acc['ci'][0]:.3f}\u2013{acc['ci'][1]:.3f}]"


def test_comparison_rejects_missing_run(reported_runs, tmp_path):
    with pytest.raises(InputFileError, match="no-such-run"):
        write_comparison([reported_runs["cv"], tmp_path / "no-such-run"], tmp_path / "cmp")
    with pytest.raises(MammokitError):
        write_comparison([], tmp_path / "cmp")


# --- CLI --------------------------------------------------------------------------------------------------


def _copy_run(run_dir: Path, dest: Path) -> Path:
    """A fresh copy of a run folder without its report, so the CLI must write it."""
    return Path(shutil.copytree(run_dir, dest / run_dir.name, ignore=shutil.ignore_patterns("figures", "*.html")))


def test_cli_report_one_run_writes_no_comparison(reported_runs, tmp_path):
    run = _copy_run(reported_runs["module2"], tmp_path / "runs")
    with pytest.raises(SystemExit) as info:
        main(["report", str(run)])
    assert info.value.code == 0
    assert (run / "report.html").is_file() and (run / "figures" / "prediction_grid.png").is_file()
    assert not (tmp_path / "runs" / "comparison").exists()


def test_cli_report_several_runs_compares_them(reported_runs, tmp_path, capsys):
    runs = [_copy_run(reported_runs[p], tmp_path / "runs") for p in ("module1", "cv")]
    with pytest.raises(SystemExit) as info:
        main(["report", *map(str, runs)])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert all((r / "report.html").is_file() for r in runs)
    assert (tmp_path / "runs" / "comparison" / "comparison.html").is_file()  # default: beside the runs
    assert "mias-module1" in out and "mias-cv" in out and "LEAKY" in out and "ROC-AUC" in out


def test_cli_report_compare_out_and_errors(reported_runs, tmp_path, capsys):
    run = _copy_run(reported_runs["cv"], tmp_path)
    with pytest.raises(SystemExit) as info:
        main(["report", str(run), "--compare-out", str(tmp_path / "cmp")])
    assert info.value.code == 0 and (tmp_path / "cmp" / "comparison.json").is_file()
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        main(["report", str(tmp_path / "missing-run")])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "missing-run" in err and "not a run folder" in err


def test_cli_report_help(capsys):
    with pytest.raises(SystemExit) as info:
        main(["report", "--help"])
    assert info.value.code == 0
    assert "--compare-out" in capsys.readouterr().out


# --- a run folder made by the real experiment ------------------------------------------------------


def test_report_of_a_real_module1_run(tmp_path):
    """mammokit.orchestration writes the run folder (tiny real data, small backbone input); its report
    carries the run's own leak numbers and CIs. Guards the run-folder contract between the two areas."""
    from mammokit.orchestration import load_config, run_config

    data = tmp_path / "data"
    for rec in _mias_records()[::2]:  # 17 real images, each its own patient in a folder data set
        (data / rec.label).mkdir(parents=True, exist_ok=True)
        (data / rec.label / rec.path.name).symlink_to(rec.path)
    overrides = [f"dataset.data={data}", "dataset.name=folder", "features.backbone=efficientnet_lite0",
                 "features.size=64", f"features.cache_dir={tmp_path / 'cache'}", "model.type=logistic",
                 "protocol.name=module1", "bootstrap.n=30", "name=real-module1"]
    run_dir = run_config(load_config(None, overrides), tmp_path / "run", progress=False, report=False)
    page = write_report(run_dir).read_text()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    leak = metrics["leak"]
    assert metrics["leaky"] and "LEAK WARNING" in page
    assert f"{leak['synthetic_test_rows']} of {leak['test_rows']} test rows" in page
    value, (lo, hi) = metrics["metrics"]["accuracy"]["value"], metrics["metrics"]["accuracy"]["ci"]
    assert f"<td>{value:.3f}</td><td>{lo:.3f}\u2013{hi:.3f}</td>" in page
    assert assert_self_contained(page) == len(FIGURES)
