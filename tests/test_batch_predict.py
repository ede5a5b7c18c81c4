"""Batch prediction (`mammokit predict --out`, bundle/_batch.py) on real images: the CBIS-DDSM adapter over
real DICOMs (image and breast rows), MIAS PNGs (same answers as one-at-a-time predict, resume after an
interruption, unreadable files listed), and the BI-RADS columns of earned and unearned bundles."""
from __future__ import annotations

import csv
import shutil

import numpy as np
import pytest

from mammokit.bundle import assessment_of, load_bundle, predict_records, records_from_paths, save_bundle
from mammokit.cli import main
from mammokit.datasets import load_dataset
from mammokit.errors import ConfigError
from mammokit.features import backbone_identity, extract_features
from mammokit.preprocess import PreprocessConfig
from mammokit.protocols import fit_pipeline
from test_datasets_cbis import build_tree

CLASSES = ("normal", "benign", "malignant")
BACKBONE, SIZE = "efficientnet_lite0", 128  # the real offline backbone, small input: fast on 2 cores
IDS = [f"mdb{i:03d}" for i in range(1, 29)]  # 14 women, all three classes (malignant: mdb023, mdb028)


def _bundle(path, cache, earned: bool):
    records = [r for r in load_dataset("mias") if r.id in IDS]
    pre = PreprocessConfig(size=SIZE)
    fs = extract_features(records, backbone=BACKBONE, preprocess=pre, cache_dir=cache, progress=False)
    y = np.array([CLASSES.index(r.label) for r in records])
    pipe = fit_pipeline(fs.X, y, np.array([r.patient for r in records]), n_classes=3,
                        model_cfg={"type": "logistic"}, balance="none", calibration_cfg={"method": "none"}, seed=0)
    extra = {}
    if earned:  # as a run that measured good discrimination out of fold would record it
        extra = {"discrimination": {"3class": {"auc": 0.9, "ci": [0.8, 0.95]},
                                    "malignant_vs_rest": {"auc": 0.9, "ci": [0.8, 0.95]}},
                 "near_constant": {"value": False, "spread": 0.2, "threshold": 0.02, "measure": "test"}}
    return save_bundle(path, pipe, X_train=fs.X, classes=CLASSES, task="3class",
                       features={"backbone": BACKBONE, "weights": None, "tta": False}, preprocess=pre.as_dict(),
                       backbone_identity=backbone_identity(BACKBONE, None, SIZE), dataset={"name": "mias"}, seed=0,
                       **extra)


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("batch")
    cache = tmp / "cache"
    return {"unearned": _bundle(tmp / "unearned", cache, False), "earned": _bundle(tmp / "earned", cache, True),
            "cache": cache}


def _rows(path):
    return list(csv.DictReader(path.open()))


def _probs(row):
    return np.array([float(row[f"p_{c}"]) for c in CLASSES])


def test_cbis_ddsm_dataset_gives_image_and_breast_rows(bundles, tmp_path):
    tree = build_tree(tmp_path / "cbis")
    out = tmp_path / "preds.csv"
    with pytest.raises(SystemExit) as exc:
        main(["predict", "--model", str(bundles["unearned"]), "--dataset", "cbis-ddsm", "--data", str(tree),
              "--out", str(out), "--cache", str(bundles["cache"])])
    assert exc.value.code == 0
    rows = _rows(out)
    images = [r for r in rows if r["level"] == "image"]
    breasts = {r["id"]: r for r in rows if r["level"] == "breast"}
    records = load_dataset("cbis-ddsm", tree)
    assert sorted(r["id"] for r in images) == sorted(r.id for r in records)
    assert sorted(breasts) == ["P_00173/L", "P_00173/R", "P_00820/L"]
    predictor = load_bundle(bundles["unearned"])
    by_id = {r["id"]: r for r in images}
    for rec in records:  # the batch engine (ONNX Runtime) agrees with one-image predict (PyTorch) to 1e-4
        single = predictor.predict(rec.path)
        np.testing.assert_allclose(_probs(by_id[rec.id]), [single.probabilities[c] for c in CLASSES], atol=1e-4)
        assert by_id[rec.id]["breast"] == rec.breast
    # a breast row is the mean of its views' probabilities, and counts them
    views = [by_id[r.id] for r in records if r.breast == "P_00820/L"]
    row = breasts["P_00820/L"]
    assert row["images"] == "2" and row["view"] == "CC+MLO"
    np.testing.assert_allclose(_probs(row), np.mean([_probs(v) for v in views], axis=0), atol=1e-12)
    assert float(row["p_malignant_max"]) == max(float(v["p_malignant"]) for v in views)
    # the model has not earned a category: every row says so, in the bundle's own words
    withheld = assessment_of(predictor.predict(records[0].path), predictor.evidence, 0.0059).withheld
    assert withheld and all(r["birads_withheld"] == withheld and r["birads"] == "" for r in rows)


def test_earned_bundle_fills_the_birads_columns(bundles, tmp_path):
    records = [r for r in load_dataset("mias") if r.id in IDS[:4]]
    predictor = load_bundle(bundles["earned"])
    s = predict_records(predictor, records, tmp_path / "p.csv", cache_dir=bundles["cache"], progress=False)
    assert (s.computed, s.failed) == (4, [])
    for row, rec in zip(_rows(tmp_path / "p.csv"), records):
        a = assessment_of(predictor.predict(rec.path), predictor.evidence, 0.0059)
        assert row["birads_withheld"] == (a.withheld or "")
        assert row["birads"] == (a.category or "")
        if row["in_distribution"] == "true":
            assert row["birads"] != ""  # an earned model in distribution gives a category


def test_resume_after_interruption_and_unreadable_files(bundles, tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    mias = load_dataset("mias")
    for r in mias[:10]:
        shutil.copy(r.path, folder / r.path.name)
    (folder / "garbage.png").write_bytes(b"not a picture at all")
    (folder / "cut.png").write_bytes(mias[10].path.read_bytes()[:5000])  # truncated PNG
    records = records_from_paths([folder])
    predictor = load_bundle(bundles["unearned"])
    fresh = tmp_path / "fresh.csv"
    s = predict_records(predictor, records, fresh, cache_dir=bundles["cache"], batch_size=4, progress=False)
    assert (s.computed, s.resumed, len(s.failed)) == (12, 0, 2)
    reasons = dict(s.failed)
    assert "not an image" in reasons[str(folder / "garbage.png")]
    assert "truncated or corrupt PNG" in reasons[str(folder / "cut.png")]
    ref = {r["id"]: r for r in _rows(fresh)}
    assert ref["garbage"]["error"] and ref["mdb005"]["error"] == "" and ref["mdb005"]["label"]

    # "Interrupted": the first 7 images done, the process killed while writing the 8th row.
    out = tmp_path / "resumed.csv"
    predict_records(predictor, records[:7], out, cache_dir=bundles["cache"], batch_size=4, progress=False)
    text = out.read_text()
    out.write_text(text + "image,mdb008,/half/writ")
    s = predict_records(predictor, records, out, cache_dir=bundles["cache"], batch_size=4, progress=False)
    done_before = sum(1 for r in records[:7] if r.id not in ("cut", "garbage"))
    assert s.resumed == done_before and s.computed == len(records) - done_before
    rows = {r["id"]: r for r in _rows(out)}
    assert sorted(rows) == sorted(ref)  # no duplicate, no torn row
    for rid, row in rows.items():
        assert row["error"] == ref[rid]["error"]
        if not row["error"]:
            np.testing.assert_allclose(_probs(row), _probs(ref[rid]), atol=1e-6)

    # Nothing left: a re-run computes nothing. Another prevalence refuses to append unless restarted.
    again = predict_records(predictor, records, out, cache_dir=bundles["cache"], progress=False)
    assert again.computed == 2 and again.resumed == len(records) - 2  # only the two failures are tried again
    with pytest.raises(ConfigError, match="restart"):
        predict_records(predictor, records, out, prevalence=0.2, progress=False)
    s = predict_records(predictor, records, out, prevalence=0.2, restart=True, cache_dir=bundles["cache"],
                        progress=False)
    assert s.resumed == 0 and s.computed == len(records)


def test_cli_batch_lists_unreadable_images_and_exits_2(bundles, tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(load_dataset("mias")[0].path, folder / "a.png")
    (folder / "b.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    with pytest.raises(SystemExit) as exc:
        main(["predict", str(folder), "--model", str(bundles["unearned"]), "--out", str(tmp_path / "o.csv"),
              "--cache", str(bundles["cache"])])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f"unreadable: {folder / 'b.png'}:" in err
    assert [r["id"] for r in _rows(tmp_path / "o.csv")] == ["a", "b"]
