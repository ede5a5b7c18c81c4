"""Bundle save/load: identical probabilities after the round trip; damaged bundles give one-line errors."""
from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.datasets import make_classification

from mammokit.bundle import COMMON_FIELDS, HeadPredictor, Predictor, load_bundle, save_bundle
from mammokit.constants import RESEARCH_DISCLAIMER
from mammokit.errors import ModelError
from mammokit.protocols import fit_pipeline

CLASSES = ("normal", "benign", "malignant")


def _fitted(model: str, calibration: str = "temperature", balance: str = "smote"):
    X, y = make_classification(150, 16, n_informative=6, n_classes=3, weights=[0.6, 0.25, 0.15], random_state=0)
    X = X.astype(np.float32)
    groups = np.arange(150) // 2
    pipe = fit_pipeline(X, y, groups, n_classes=3, model_cfg={"type": model, "epochs": 5}, balance=balance,
                        calibration_cfg={"method": calibration}, seed=0)
    return pipe, X


def _save(tmp_path, pipe, X):
    return save_bundle(tmp_path / "bundle", pipe, X_train=X, classes=CLASSES, task="3class",
                       features={"backbone": "efficientnet_lite0", "weights": None, "tta": False},
                       preprocess={"size": 224, "mode": "imagenet", "crop": True, "orient": True},
                       backbone_identity="efficientnet_lite0:test:s224", dataset={"name": "synthetic"}, seed=0,
                       trained_on="all rows", protocol="cv")


@pytest.mark.parametrize("model,calibration,balance", [
    ("dense_head", "temperature", "smote"), ("dense_head", "isotonic", "class_weight"),
    ("logistic", "platt", "random_oversample"), ("logistic", "none", "none"),
])
def test_round_trip_gives_identical_probabilities(tmp_path, model, calibration, balance):
    pipe, X = _fitted(model, calibration, balance)
    path = _save(tmp_path, pipe, X)
    files = {p.name for p in path.iterdir()}
    assert {"manifest.json", "scaler.npz", "calibrator.json"} <= files
    assert ("head.pt" if model == "dense_head" else "head.npz") in files
    predictor = load_bundle(path)
    np.testing.assert_array_equal(predictor.predict_features(X), pipe.predict_proba(X))
    assert predictor.classes == CLASSES
    m = predictor.manifest
    assert m["disclaimer"] == RESEARCH_DISCLAIMER and m["model_type"] == model
    assert m["label_map"] == {"normal": 0, "benign": 1, "malignant": 2}
    assert set(COMMON_FIELDS) <= set(m)  # the one manifest schema every bundle kind shares
    for key in ("preprocess", "training", "label_map", "head"):
        assert key in m
    assert isinstance(predictor, Predictor) and isinstance(predictor, HeadPredictor)
    # the training rows themselves sit inside the out-of-distribution threshold
    assert m["ood"]["train_max"] <= m["ood"]["threshold"]


def test_bundle_has_no_pickles(tmp_path):
    pipe, X = _fitted("dense_head")
    path = _save(tmp_path, pipe, X)
    import torch

    torch.load(path / "head.pt", weights_only=True)  # a plain state_dict
    with np.load(path / "scaler.npz", allow_pickle=False) as z:
        assert z["mean"].shape == (16,)


@pytest.mark.parametrize("damage,match", [
    ("no_folder", "not a model bundle folder"),
    ("no_manifest", "manifest.json: missing"),
    ("wrong_kind", "not a mammokit bundle"),
    ("garbage_head", "unreadable head weights"),
    ("no_scaler", "scaler.npz: missing"),
    ("newer_format", "bundle format 2 is newer than this mammokit reads"),
    ("unknown_type", "unknown model_type 'gbm'"),
    ("no_classes", "manifest lacks classes"),
    ("not_json", "manifest.json: unreadable"),
])
def test_damaged_bundle_is_a_model_error(tmp_path, damage, match):
    pipe, X = _fitted("dense_head")
    path = _save(tmp_path, pipe, X)
    if damage == "no_folder":
        path = tmp_path / "nowhere"
    elif damage == "no_manifest":
        (path / "manifest.json").unlink()
    elif damage == "wrong_kind":
        m = json.loads((path / "manifest.json").read_text())
        m["kind"] = "something-else"
        (path / "manifest.json").write_text(json.dumps(m))
    elif damage in ("newer_format", "unknown_type", "no_classes"):
        m = json.loads((path / "manifest.json").read_text())
        if damage == "newer_format":
            m["format"] = 2
        elif damage == "unknown_type":
            m["model_type"] = "gbm"
        else:
            del m["classes"]
        (path / "manifest.json").write_text(json.dumps(m))
    elif damage == "not_json":
        (path / "manifest.json").write_text("{not json")
    elif damage == "garbage_head":
        (path / "head.pt").write_bytes(b"not a torch file")
    elif damage == "no_scaler":
        (path / "scaler.npz").unlink()
    with pytest.raises(ModelError, match=match) as info:
        load_bundle(path)
    assert "\n" not in str(info.value)


def test_other_backbone_weights_are_refused_on_every_path(tmp_path, mias_png):
    """The bundle records the identity of the weights it was trained on ("efficientnet_lite0:test:s224" here);
    the real Lite0 weights found on this machine differ, so one-image predict, batch predict and the check
    itself refuse with one line, before any backbone pass."""
    from mammokit.bundle import predict_records, records_from_paths

    pipe, X = _fitted("logistic")
    predictor = load_bundle(_save(tmp_path, pipe, X))
    for call in (predictor.check_backbone, lambda: predictor.predict(mias_png(1)),
                 lambda: predict_records(predictor, records_from_paths([mias_png(1)]), tmp_path / "p.csv",
                                         progress=False)):
        with pytest.raises(ModelError, match="backbone weights differ from the ones the model was trained on") as info:
            call()
        assert "efficientnet_lite0:test:s224" in str(info.value) and "\n" not in str(info.value)
