"""CNN-LSTM: feature maps read as sequences, output shapes, bad shapes, and training that never sees test rows."""
from __future__ import annotations

import numpy as np
import pytest

from mammokit.constants import default_mias_dir
from mammokit.errors import ModelError
from mammokit.models import make_model
from mammokit.models._cnn_lstm import (
    SEQUENCE_LAYOUTS,
    CnnLstmClassifier,
    map_to_sequence,
    sequence_shape,
)
from mammokit.protocols import ProtocolData, fit_pipeline, grouped_kfold, run_protocol

C, H, W = 5, 3, 4
FAST = {"proj": 8, "lstm_hidden": 6, "epochs": 3, "patience": 2, "batch_size": 16}


def _maps(n=6, seed=0):
    return np.random.default_rng(seed).normal(size=(n, C, H, W)).astype(np.float32)


def _toy(n_per_class=20, seed=0, n_classes=3, counts=None):
    """Maps where each class lights up a different map row (a signal a row-reading LSTM can find)."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(n_classes), counts or n_per_class)
    maps = rng.normal(size=(len(y), C, H, W)).astype(np.float32)
    for k in range(n_classes):
        maps[y == k, :, k % H, :] += 2.0
    groups = np.repeat(np.arange(len(y) // 2), 2)  # two "breasts" per patient, same class
    return maps, y, groups


# --- layouts -------------------------------------------------------------------------------
EXPECTED = {
    "rows": lambda m, i, t: m[i, :, t, :].T.reshape(-1),
    "columns": lambda m, i, t: m[i, :, :, t].T.reshape(-1),
    "raster": lambda m, i, t: m[i, :, t // W, t % W],
    "row_means": lambda m, i, t: m[i, :, t, :].mean(axis=-1),
}


@pytest.mark.parametrize("layout", sorted(SEQUENCE_LAYOUTS))
def test_map_to_sequence_layout(layout):
    maps = _maps()
    seq = map_to_sequence(maps, layout)
    T, F = sequence_shape((C, H, W), layout)
    assert seq.shape == (len(maps), T, F) and seq.dtype == np.float32
    for i in (0, len(maps) - 1):
        for t in range(T):
            np.testing.assert_allclose(seq[i, t], EXPECTED[layout](maps, i, t), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("maps, layout, match", [
    (np.zeros((2, 5, 3)), "rows", "shape \\(n, C, h, w\\)"),
    (np.zeros((2, 5, 3, 4, 1)), "rows", "shape \\(n, C, h, w\\)"),
    (np.zeros((2, 5, 3, 4)), "diagonal", "layout 'diagonal' is unknown"),
])
def test_map_to_sequence_rejects_bad_input(maps, layout, match):
    with pytest.raises(ModelError, match=match):
        map_to_sequence(maps, layout)


def test_real_mias_maps_become_sequences(tmp_path):
    """Spatial maps of real MIAS images from the backbone, read as rows."""
    from mammokit.datasets import load_mias
    from mammokit.features import extract_features

    mias = default_mias_dir()
    assert mias is not None, "mini-MIAS not found beside the checkout"
    recs = load_mias(mias, ids=["mdb001", "mdb002", "mdb005"])
    fs = extract_features(recs, backbone="efficientnet_lite0", preprocess={"size": 96}, spatial=True,
                          cache_dir=tmp_path, progress=False)
    assert fs.X.ndim == 4 and fs.X.shape[:2] == (3, 1280)
    seq = map_to_sequence(fs.X, "rows")
    h, w = fs.X.shape[2:]
    assert seq.shape == (3, h, w * 1280)
    # the pooled feature the plain CNN uses is the mean of every step of the raster sequence
    np.testing.assert_allclose(map_to_sequence(fs.X, "raster").mean(axis=1), fs.X.mean(axis=(2, 3)), rtol=1e-5)


# --- the estimator ---------------------------------------------------------------------------
@pytest.mark.parametrize("layout, extra", [
    ("rows", {}), ("columns", {"bidirectional": False}), ("raster", {"proj": 0}), ("row_means", {}),
])
def test_output_shapes(layout, extra):
    maps, y, _ = _toy()
    seq = map_to_sequence(maps, layout)
    model = CnnLstmClassifier(seq_len=seq.shape[1], **{**FAST, **extra}).fit(seq, y)
    proba = model.predict_proba(seq)
    assert proba.shape == (len(y), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    # (n, T, F) and flattened (n, T*F) rows are the same input
    np.testing.assert_array_equal(proba, model.predict_proba(seq.reshape(len(seq), -1)))
    assert set(model.predict(seq)) <= {0, 1, 2}
    assert model.step_features_ == seq.shape[2]


def test_learns_a_row_signal_and_is_deterministic():
    maps, y, _ = _toy(n_per_class=30)
    seq = map_to_sequence(maps, "rows")
    kw = {"seq_len": H, "proj": 16, "lstm_hidden": 16, "epochs": 40, "patience": 40, "random_state": 3}
    a = CnnLstmClassifier(**kw).fit(seq[::2], y[::2])
    b = CnnLstmClassifier(**kw).fit(seq[::2], y[::2])
    np.testing.assert_array_equal(a.predict_proba(seq[1::2]), b.predict_proba(seq[1::2]))
    assert (a.predict(seq[1::2]) == y[1::2]).mean() > 0.8  # chance is 1/3


@pytest.mark.parametrize("fit_X, predict_X, match", [
    (np.zeros((12, 7)), None, "cannot be cut into seq_len=3"),            # 7 numbers, 3 steps
    (np.zeros((12, 4, 5)), None, "4 steps but the model expects seq_len=3"),
    (np.zeros(12), None, "got shape \\(12,\\)"),
    (np.zeros((12, 3, 2, 2)), None, "got shape \\(12, 3, 2, 2\\)"),
    (np.zeros((12, 3, 4)), np.zeros((5, 3, 5)), "expects 3 steps x 4 = 12"),
])
def test_invalid_input_shapes(fit_X, predict_X, match):
    model = CnnLstmClassifier(seq_len=3, **FAST)
    y = np.arange(12) % 2
    if predict_X is None:
        with pytest.raises(ModelError, match=match):
            model.fit(fit_X, y)
    else:
        model.fit(fit_X + np.random.default_rng(0).normal(size=fit_X.shape), y)
        with pytest.raises(ModelError, match=match):
            model.predict_proba(predict_X)


def test_factory_builds_it_and_needs_seq_len():
    model = make_model({"type": "cnn_lstm", "seq_len": 7, "lstm_hidden": 8}, class_weight="balanced", random_state=4)
    assert isinstance(model, CnnLstmClassifier)
    assert (model.seq_len, model.lstm_hidden, model.class_weight, model.random_state) == (7, 8, "balanced", 4)
    with pytest.raises(ModelError, match="seq_len"):
        make_model({"type": "cnn_lstm"})


# --- leak freedom --------------------------------------------------------------------------
def _protocol_data(layout="rows"):
    maps, y, groups = _toy(counts=[24, 8, 8])  # imbalanced, like MIAS, so SMOTE has work to do
    seq = map_to_sequence(maps, layout)
    n = len(y)
    return ProtocolData(seq.reshape(n, -1), y, groups.astype(str), [f"img{i}" for i in range(n)], [""] * n,
                        ("a", "b", "c")), seq.shape[1]


def test_training_never_sees_test_rows_in_grouped_folds():
    """In each fold the network is fitted (and early-stopped) on training patients only, SMOTE rows included."""
    data, T = _protocol_data()
    model_cfg = {"type": "cnn_lstm", "seq_len": T, **FAST}
    for train, test in grouped_kfold(data.y, data.groups, 3, seed=0):
        pipe = fit_pipeline(data.X[train], data.y[train], data.groups[train], n_classes=3, model_cfg=model_cfg,
                            balance="smote", calibration_cfg={"method": "none", "prior_correction": False}, seed=0)
        model = pipe.model
        assert isinstance(model, CnnLstmClassifier)
        # the check can fail both ways: every training row was used, no test row was
        assert model.saw_rows(pipe.scaler.transform(data.X[train])).all()
        assert not model.saw_rows(pipe.scaler.transform(data.X[test])).any()
        assert not set(data.groups[test]) & set(data.groups[train])
        assert len(model.val_digests_) > 0  # early stopping used a part of the training patients


@pytest.mark.parametrize("protocol, honest", [("cv", True), ("module2", True), ("module1", False)])
def test_protocols_with_cnn_lstm_report_their_leak(protocol, honest):
    data, T = _protocol_data("row_means")
    cfg = {"seed": 0, "balance": "smote", "model": {"type": "cnn_lstm", "seq_len": T, **FAST},
           "calibration": {"method": "none", "prior_correction": False},
           "protocol": {"folds": 2, "repeats": 1, "test_size": 0.25}}
    result = run_protocol(protocol, data, cfg)
    seen = result.leak_check["test_rows_seen_by_training_components"]
    assert result.proba.shape == (len(result.y_true), 3)
    if honest:
        assert seen == 0 and result.leak_check["test_patients_in_training"] == 0 and not result.leaky
    else:  # SMOTE on everything before the split: the leak is there and is counted
        assert result.leaky and seen > 0 and result.leak["synthetic_test_rows"] > 0


def test_unknown_sequence_layout_in_shape_helper():
    with pytest.raises(ModelError, match="unknown"):
        sequence_shape((C, H, W), "spiral")
    with pytest.raises(ModelError, match="\\(C, h, w\\)"):
        sequence_shape((C, H), "rows")
