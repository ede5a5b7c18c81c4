"""`mammokit compare` on a tiny real subset of mini-MIAS: the table, the charts, the docs refresh, bad configs."""
from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from mammokit.constants import REPO_ROOT, default_mias_dir
from mammokit.errors import ConfigError, DatasetError, InputFileError
from mammokit.orchestration.compare import BEGIN, END, load_comparison_config, refresh_docs, select_patients

CONFIG = REPO_ROOT / "configs" / "paper-comparison.yaml"
MODELS = ("cnn_imbalanced", "cnn_smote", "cnn_class_weight", "cnn_lstm_smote")
PROTOCOLS = ("module1", "module2", "cv")


def _tiny_overrides(cache: Path) -> list[str]:
    """The shipped config, shrunk: 5 patients per class, 64 px, 2 folds, 2 epochs, 30 bootstrap samples."""
    sets = ["subset.patients_per_class=5", "features.size=64", f"features.cache_dir={cache}",
            "protocols.cv.folds=2", "protocols.cv.repeats=1", "bootstrap.n=30"]
    return sets + [f"models.{m}.model.epochs=2" for m in MODELS]


def _tiny_run(base: Path):
    """One real CLI run of the shipped config on the tiny subset (about half a minute)."""
    assert default_mias_dir() is not None, "mini-MIAS not found beside the checkout"
    docs = base / "page.md"
    docs.write_text(f"# Page\n\nprose before\n\n{BEGIN}\nold numbers\n{END}\n\nprose after\n")
    out = base / "run"
    args = ["compare", str(CONFIG), "--out", str(out), "--docs", str(docs), "--quiet"]
    for s in _tiny_overrides(base / "cache"):
        args += ["--set", s]
    proc = subprocess.run([sys.executable, "-c", "from mammokit.cli import main; main()", *args],
                          check=False, capture_output=True, text=True, timeout=600, cwd=base)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out, proc.stdout, docs


def _check_writes_table_for_every_model_and_protocol(tiny_run):
    out, _, _ = tiny_run
    data = json.loads((out / "comparison.json").read_text())
    rows = data["rows"]
    assert [(r["model"], r["protocol"]) for r in rows] == [(m, p) for m in MODELS for p in PROTOCOLS]
    for r in rows:
        assert r["leaky"] == (r["protocol"] == "module1")
        for metric in ("accuracy", "balanced_accuracy", "macro_f1", "macro_roc_auc"):
            v, (lo, hi) = r[metric]["value"], r[metric]["ci"]
            assert 0 <= lo <= v <= hi <= 1, (r["model"], r["protocol"], metric)
        assert (out / data["cells"][f"{r['model']}-{r['protocol']}"] / "metrics.json").is_file()
    # honest protocols: no test row reached any training component; module1 with SMOTE: the leak is counted
    honest = [r for r in rows if r["protocol"] != "module1"]
    assert all(r["test_rows_seen_by_training"] == 0 for r in honest)
    smote_m1 = [r for r in rows if r["protocol"] == "module1" and r["balance"] == "smote"]
    assert smote_m1 and all(r["test_rows_seen_by_training"] > 0 and r["synthetic_test_fraction"] > 0
                            for r in smote_m1)
    # the same patients are tested for every model under a protocol (same seed, same split)
    for p in ("module2", "cv"):
        ids = {}
        for m in MODELS:
            with open(out / "cells" / f"{m}-{p}" / "predictions.csv") as fh:
                ids[m] = [row["id"] for row in csv.DictReader(fh)]
        assert all(ids[m] == ids[MODELS[0]] for m in MODELS)
    prov = data["provenance"]
    assert prov["n_patients"] == 15 and prov["commit"] and prov["date_utc"].endswith("UTC")


def _check_csv_and_markdown_carry_the_paper_claims(tiny_run):
    out, stdout, _ = tiny_run
    with open(out / "comparison.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(MODELS) * len(PROTOCOLS)
    claims = {r["model"]: r["paper_claim_accuracy"] for r in rows}
    assert claims == {"cnn_imbalanced": "0.9", "cnn_smote": "0.98", "cnn_class_weight": "", "cnn_lstm_smote": "0.99"}
    md = (out / "comparison.md").read_text()
    assert "| Model | Protocol | Paper's claim (accuracy) |" in md and "Module 1 (LEAKY)" in md
    assert md.count("\n| CNN") == 2 * len(MODELS) * len(PROTOCOLS)  # the metrics table and the recall table
    assert "recall malignant" in md and "Module 1's leak" in md
    assert "Module 1 (LEAKY)" in stdout and "Paper's claim" in stdout and "not a medical device" in stdout


def _check_charts_are_written(tiny_run):
    out, _, _ = tiny_run
    for name in ("accuracy_vs_paper.png", "f1_auc_vs_paper.png"):
        img = imread(out / "figures" / name)
        assert img.ndim == 3 and img.shape[0] > 300 and img.shape[1] > 600
        assert np.ptp(img[..., :3]) > 0.5  # not a blank canvas


def _check_docs_section_refreshed_and_prose_kept(tiny_run):
    out, _, docs = tiny_run
    text = docs.read_text()
    assert "old numbers" not in text and "prose before" in text and "prose after" in text
    section = text[text.index(BEGIN) + len(BEGIN): text.index(END)]
    assert section.strip().startswith((out / "comparison.md").read_text().split("\n", 2)[2].strip())
    for name in ("page-accuracy.png", "page-f1-auc.png"):  # the charts are copied beside the page and linked
        assert f"![{name}](figures/{name})" in section
        assert (docs.parent / "figures" / name).read_bytes() == (
            out / "figures" / ("accuracy_vs_paper.png" if "accuracy" in name else "f1_auc_vs_paper.png")).read_bytes()


def test_tiny_comparison_end_to_end(tmp_path):
    """One run (not a fixture shared by several tests: xdist could run them on two workers and pay twice)."""
    run = _tiny_run(tmp_path)
    _check_writes_table_for_every_model_and_protocol(run)
    _check_csv_and_markdown_carry_the_paper_claims(run)
    _check_charts_are_written(run)
    _check_docs_section_refreshed_and_prose_kept(run)


@pytest.mark.parametrize("content", [
    "no markers here\n",
    f"{END}\nreversed\n{BEGIN}\n",
])
def test_refresh_docs_needs_markers(tmp_path, content):
    page = tmp_path / "page.md"
    page.write_text(content)
    with pytest.raises(InputFileError, match="markers"):
        refresh_docs(page, "| table |")
    assert page.read_text() == content  # nothing lost
    with pytest.raises(InputFileError, match="not found"):
        refresh_docs(tmp_path / "missing.md", "x")


def test_shipped_config_loads_with_overrides():
    cfg = load_comparison_config(CONFIG, ["models.cnn_lstm_smote.model.epochs=5", "protocols.cv.repeats=1"])
    assert list(cfg["models"]) == list(MODELS)
    assert cfg["models"]["cnn_lstm_smote"]["model"]["epochs"] == 5 and cfg["protocols"]["cv"]["repeats"] == 1
    assert cfg["models"]["cnn_lstm_smote"]["input"] == {"sequence": "rows"}
    assert cfg["calibration"] == {"method": "none", "fraction": 0.2, "prior_correction": False}


@pytest.mark.parametrize("overrides, match", [
    (["colour=red"], "unknown config key colour"),
    (["models.resnet.model.epochs=3"], "no model named 'resnet'"),
    (["models.cnn_smote.balance=magic"], "balance: 'magic'"),
    (["models.cnn_smote.input={sequence: rows}"], "needs model.type cnn_lstm"),
    (["models.cnn_lstm_smote.input.sequence=spiral"], "'spiral' is not one of"),
    (["models.cnn_lstm_smote.input=pooled"], "needs input"),
    (["models.cnn_smote.paper_claim.accuracy=98"], "must be a fraction"),
    (["protocols.module3={}"], "unknown protocol"),
    (["subset.patients_per_class=1"], "integer >= 2"),
    (["task=4class"], "task: '4class'"),
])
def test_bad_configs_are_one_line_errors(overrides, match):
    with pytest.raises(ConfigError, match=match) as info:
        load_comparison_config(CONFIG, overrides)
    assert "\n" not in str(info.value)


def test_missing_config_file_exits_2(tmp_path):
    proc = subprocess.run([sys.executable, "-c", "from mammokit.cli import main; main()", "compare",
                           str(tmp_path / "nope.yaml")], check=False, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "nope.yaml: config file not found" in proc.stderr


@pytest.mark.parametrize("per_class, ok", [(3, True), (100, False)])
def test_select_patients_keeps_whole_patients(per_class, ok):
    groups = np.repeat([f"p{i}" for i in range(20)], 2)
    y = np.array([0] * 24 + [1] * 8 + [2] * 8)
    if not ok:
        with pytest.raises(DatasetError, match="patients left"):
            select_patients(groups, y, per_class, seed=0)
        return
    rows = select_patients(groups, y, per_class, seed=0)
    chosen = set(groups[rows])
    assert all(np.isin(np.flatnonzero(np.isin(groups, list(chosen))), rows))  # both images of each patient
    assert all(len(set(groups[rows][y[rows] == k])) >= per_class for k in range(3))
    np.testing.assert_array_equal(rows, select_patients(groups, y, per_class, seed=0))
