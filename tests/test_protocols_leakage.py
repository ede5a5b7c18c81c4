"""Protocols: no test row (nor any row of a test patient) reaches a fitted component in module2/cv;
module1's leak is detected and measured; same seed, same numbers.

The checks use the Audit, which records the VALUES of every row the sampler, the scaler, the
early-stopping split and the calibration split received, so they hold for the data that really
arrived, not for indices the protocol claims.
"""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_classification

from mammokit.balance import Audit
from mammokit.errors import ConfigError
from mammokit.protocols import ProtocolData, fit_pipeline, run_protocol

CLASSES = ("normal", "benign", "malignant")


def _data(n=120, d=12, seed=0) -> ProtocolData:
    X, y = make_classification(n, d, n_informative=6, n_classes=3, weights=[0.6, 0.25, 0.15], random_state=seed)
    groups = np.array([f"p{i // 2}" for i in range(n)])  # two "breasts" per patient
    ids = [f"img{i:03d}" for i in range(n)]
    return ProtocolData(X.astype(np.float32), y, groups, ids, [f"/data/{i}.png" for i in ids], CLASSES)


def _cfg(protocol="cv", balance="smote", model="logistic", seed=0, repeats=2, **model_kw):
    return {"seed": seed, "balance": balance, "model": {"type": model, **model_kw},
            "calibration": {"method": "temperature", "fraction": 0.2},
            "protocol": {"name": protocol, "folds": 3, "repeats": repeats, "test_size": 0.2}}


def _assert_no_leak(data, result, context, test_mask):
    index = {id_: i for i, id_ in enumerate(data.ids)}
    test = np.array([index[i] for i in np.asarray(result.ids)[test_mask]])
    seen = result.audit.indices_seen(context, data.X)
    assert len(seen) > 0
    assert not set(seen) & set(test), f"{context}: test rows reached a training component"
    assert not set(data.groups[seen]) & set(data.groups[test]), f"{context}: a test patient's row was used"
    # ...and the training components saw every other row (the audit is not trivially empty)
    assert set(seen) == set(range(len(data.y))) - set(test)
    for stage in ("sampler", "scaler", "calibration"):
        assert len(result.audit.indices_seen(context, data.X, stage=stage)) > 0


@pytest.mark.parametrize("balance", ["smote", "borderline_smote", "adasyn", "random_oversample", "class_weight",
                                     "none"])
def test_cv_never_fits_on_test_patients(balance):
    data = _data()
    result = run_protocol("cv", data, _cfg("cv", balance))
    assert sorted(set(result.repeats)) == [0, 1]
    for r in range(2):
        sel = result.repeats == r
        assert sorted(np.asarray(result.ids)[sel]) == sorted(data.ids)  # each image once per repeat
        for f in range(3):
            _assert_no_leak(data, result, f"repeat{r}/fold{f}", sel & (result.folds == f))
    assert result.leak_check == {"test_rows_seen_by_training_components": 0, "test_patients_in_training": 0}
    assert not result.leaky and result.leak is None


def test_cv_dense_head_early_stopping_split_is_from_training_patients():
    data = _data()
    result = run_protocol("cv", data, _cfg("cv", "smote", "dense_head", repeats=1, epochs=3))
    for f in range(3):
        ctx = f"repeat0/fold{f}"
        _assert_no_leak(data, result, ctx, (result.repeats == 0) & (result.folds == f))
        assert len(result.audit.indices_seen(ctx, data.X, stage="early_stopping")) > 0


def test_module2_holds_out_whole_patients_stratified():
    data = _data()
    result = run_protocol("module2", data, _cfg("module2"))
    _assert_no_leak(data, result, "module2", np.ones(len(result.ids), bool))
    assert 0.15 <= len(result.ids) / len(data.ids) <= 0.25
    assert set(result.y_true) == {0, 1, 2}  # stratified: every class in the test part
    assert result.synthetic.sum() == 0 and not result.leaky


def test_audit_catches_a_leaky_fit():
    """The check can fail: fitting on rows that include the 'test' rows is detected."""
    data = _data()
    audit = Audit()
    fit_pipeline(data.X, data.y, data.groups, n_classes=3, model_cfg={"type": "logistic"}, balance="smote",
                 calibration_cfg={"method": "temperature"}, seed=0, audit=audit, context="bad")
    test = np.arange(10)
    assert set(audit.indices_seen("bad", data.X)) >= set(test)


def test_module1_leak_is_detected_and_measured():
    data = _data()
    result = run_protocol("module1", data, _cfg("module1", "smote"))
    leak = result.leak
    assert result.leaky
    ids = np.asarray(result.ids)
    syn = result.synthetic == 1
    assert syn.any() and all(i.startswith("synthetic-") for i in ids[syn])
    assert all(p == "" for p in np.asarray(result.paths)[syn])
    assert leak["test_rows"] == len(ids)
    assert leak["synthetic_test_rows"] == int(syn.sum())
    assert leak["synthetic_test_fraction"] == pytest.approx(syn.mean())
    # recount from the recorded parents: synthetic test rows made from an image that is in training
    real_test = set(ids[~syn])
    training_images = set(data.ids) - real_test
    parents = [set(p.split("|")) for p in np.asarray(result.extra["parents"])[syn]]
    assert all(len(p) >= 1 and p <= set(data.ids) for p in parents)
    assert leak["test_rows_interpolated_from_training_images"] == sum(bool(p & training_images) for p in parents)
    assert leak["test_rows_interpolated_from_training_images"] > 0
    train_patients = {data.groups[data.ids.index(i)] for i in training_images}
    other_breast = sum(data.groups[data.ids.index(i)] in train_patients for i in real_test)
    assert leak["real_test_images_with_other_breast_in_training"] == other_breast > 0
    # the balancing saw the test rows: the audit says so
    assert result.leak_check["test_rows_seen_by_training_components"] > 0
    assert leak["synthetic_rows_with_unidentified_parents"] == 0


def test_same_seed_same_numbers_different_seed_different():
    # (cross-validation's reproducibility is checked on real MIAS features in test_experiment_mias)
    data = _data()
    a = run_protocol("module2", data, _cfg("module2", "smote", "dense_head", epochs=4))
    b = run_protocol("module2", data, _cfg("module2", "smote", "dense_head", epochs=4))
    c = run_protocol("module2", data, _cfg("module2", "smote", "dense_head", seed=1, epochs=4))
    np.testing.assert_array_equal(a.proba, b.proba)
    assert a.ids == b.ids
    assert not np.array_equal(a.proba, c.proba) or a.ids != c.ids


def test_unknown_protocol_and_too_few_patients():
    data = _data()
    with pytest.raises(ConfigError, match="unknown protocol"):
        run_protocol("module3", data, _cfg())
    tiny = _data(n=12)
    from mammokit.errors import DatasetError

    cfg = _cfg("cv")
    cfg["protocol"]["folds"] = 10
    with pytest.raises(DatasetError, match="patient"):
        run_protocol("cv", tiny, cfg)
