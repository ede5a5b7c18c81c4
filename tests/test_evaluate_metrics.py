"""Metrics against hand-computed values, patient-level bootstrap, calibration, predictions.csv."""
from __future__ import annotations

import numpy as np
import pytest

from mammokit.errors import ConfigError, InputFileError
from mammokit.evaluate import (
    Calibrator,
    PredictionTable,
    bootstrap_ci,
    brier_score,
    expected_calibration_error,
    patient_bootstrap_indices,
    read_predictions,
    scalar_metrics,
    summarize,
    write_predictions,
)
from mammokit.evaluate._fast import fast_metrics

# Six rows, three classes; worked out by hand in the comments of each test.
Y = np.array([0, 0, 1, 1, 2, 2])
P = np.array([[0.7, 0.2, 0.1],   # pred 0, right
              [0.4, 0.5, 0.1],   # pred 1, wrong
              [0.2, 0.6, 0.2],   # pred 1, right
              [0.3, 0.3, 0.4],   # pred 2, wrong
              [0.1, 0.2, 0.7],   # pred 2, right
              [0.5, 0.2, 0.3]])  # pred 0, wrong


def test_scalar_metrics_match_hand_computed_values():
    m = scalar_metrics(Y, P, 3)
    assert m["accuracy"] == pytest.approx(3 / 6)
    assert m["confusion_matrix"] == [[1, 1, 0], [0, 1, 1], [1, 0, 1]]
    for k in range(3):  # each class: predicted twice, right once; present twice, found once
        assert m["per_class"][k]["precision"] == pytest.approx(0.5)
        assert m["per_class"][k]["recall"] == pytest.approx(0.5)
        # ROC-AUC: 7 of the 8 positive/negative pairs ranked correctly
        assert m["per_class"][k]["roc_auc"] == pytest.approx(7 / 8)
        # AP: precision 1 at recall 1/2, then 2/3 at recall 1 -> 0.5 * 1 + 0.5 * 2/3
        assert m["per_class"][k]["pr_auc"] == pytest.approx(0.5 + 1 / 3)
    assert m["macro_roc_auc"] == pytest.approx(7 / 8)
    assert m["balanced_accuracy"] == pytest.approx(0.5)
    # malignant (last class): recall 1/2; specificity: 3 of the 4 non-malignant rows not called malignant
    assert m["sensitivity"] == pytest.approx(0.5)
    assert m["specificity"] == pytest.approx(0.75)


def test_binary_metrics_and_undefined_auc():
    y = np.array([0, 0, 1, 1])
    p = np.array([[0.9, 0.1], [0.4, 0.6], [0.3, 0.7], [0.8, 0.2]])
    m = scalar_metrics(y, p, 2)
    # positives 0.7, 0.2 vs negatives 0.1, 0.6: pairs won 0.7>0.1, 0.7>0.6, 0.2>0.1 -> 3/4
    assert m["macro_roc_auc"] == pytest.approx(0.75)
    assert m["sensitivity"] == pytest.approx(0.5) and m["specificity"] == pytest.approx(0.5)
    only_one_class = scalar_metrics(np.array([0, 0]), np.array([[0.6, 0.4], [0.3, 0.7]]), 2)
    assert np.isnan(only_one_class["macro_roc_auc"]) and np.isnan(only_one_class["sensitivity"])


@pytest.mark.parametrize("n_classes", [2, 3])
def test_fast_bootstrap_metrics_agree_with_scikit_learn(n_classes):
    rng = np.random.default_rng(n_classes)
    for _ in range(25):
        n = int(rng.integers(6, 40))
        y = rng.integers(0, n_classes, n)
        p = np.round(rng.dirichlet(np.ones(n_classes), n), 1)  # rounding makes ties
        a, b = scalar_metrics(y, p, n_classes), fast_metrics(y, p, n_classes)
        for k in ("accuracy", "balanced_accuracy", "macro_precision", "macro_recall", "macro_f1",
                  "macro_roc_auc", "macro_pr_auc", "sensitivity", "specificity"):
            np.testing.assert_allclose(a[k], b[k], equal_nan=True, err_msg=k)


def test_bootstrap_draws_whole_patients():
    groups = np.repeat(["a", "b", "c", "d"], [1, 2, 3, 4])
    for idx in patient_bootstrap_indices(groups, 50, seed=0):
        counts = {g: int((groups[idx] == g).sum()) for g in "abcd"}
        for g, size in zip("abcd", [1, 2, 3, 4]):
            assert counts[g] % size == 0  # a patient's rows come in or go out together


def test_bootstrap_ci_resamples_patients_not_rows():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 40)
    p = rng.dirichlet(np.ones(3), 40)
    one_row_each = bootstrap_ci(y, p, np.arange(40), 3, n_boot=300, seed=1)
    # Each patient now has 5 identical rows. Resampling patients gives exactly the same intervals
    # (same draws, each metric a ratio unchanged by repeating rows); resampling rows would narrow them.
    y5, p5, g5 = np.repeat(y, 5), np.repeat(p, 5, axis=0), np.repeat(np.arange(40), 5)
    by_patient = bootstrap_ci(y5, p5, g5, 3, n_boot=300, seed=1)
    by_row = bootstrap_ci(y5, p5, np.arange(200), 3, n_boot=300, seed=1)
    for k in ("accuracy", "macro_f1", "macro_roc_auc"):
        np.testing.assert_allclose(by_patient[k], one_row_each[k])
        assert by_row[k][1] - by_row[k][0] < 0.7 * (by_patient[k][1] - by_patient[k][0])


def test_summarize_shape_and_ci_contains_value():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 60)
    p = np.clip(np.eye(2)[y] * 0.5 + rng.dirichlet([1, 1], 60) * 0.5, 0, 1)
    s = summarize(y, p, np.arange(60) // 2, ("normal", "abnormal"), n_boot=200, seed=0)
    for k in ("accuracy", "balanced_accuracy", "macro_roc_auc", "sensitivity", "specificity"):
        lo, hi = s[k]["ci"]
        assert lo <= s[k]["value"] <= hi
    assert set(s["per_class"]) == {"normal", "abnormal"}
    assert s["bootstrap"]["unit"] == "patient" and s["bootstrap"]["n_patients"] == 30


def test_brier_and_ece_hand_computed():
    # Brier rows: 0.14, 0.62, 0.24, 0.74, 0.14, 0.78 -> mean 2.66 / 6
    assert brier_score(Y, P) == pytest.approx(2.66 / 6)
    # ECE bins: conf .7 x2 (acc 1), .5 x2 (acc 0), .6 (acc 1), .4 (acc 0) -> (.6 + 1.0 + .4 + .4) / 6
    assert expected_calibration_error(Y, P) == pytest.approx(0.4)


def test_prior_correction_is_bayes_rule():
    cal = Calibrator("none", prior_fit=[0.5, 0.5], prior_real=[0.8, 0.2]).fit(np.zeros((0, 2)), [])
    out = cal.transform(np.array([[0.5, 0.5], [0.25, 0.75]]))
    np.testing.assert_allclose(out, [[0.8, 0.2], [4 / 7, 3 / 7]])
    off = Calibrator("none", prior_fit=[0.5, 0.5], prior_real=[0.8, 0.2], prior_correction=False).fit(
        np.zeros((0, 2)), [])
    np.testing.assert_allclose(off.transform(np.array([[0.25, 0.75]])), [[0.25, 0.75]])


def _overconfident(n=4000, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 3, (n, 3))
    true_p = np.exp(z / 2) / np.exp(z / 2).sum(1, keepdims=True)  # the truth is softmax(z / 2)
    y = np.array([rng.choice(3, p=q) for q in true_p])
    raw = np.exp(z) / np.exp(z).sum(1, keepdims=True)  # the model says softmax(z): overconfident
    return raw, y


def test_temperature_scaling_recovers_the_temperature():
    raw, y = _overconfident()
    cal = Calibrator("temperature").fit(raw, y)
    assert cal.params["temperature"] == pytest.approx(2.0, rel=0.15)
    assert expected_calibration_error(y, cal.transform(raw)) < expected_calibration_error(y, raw)


@pytest.mark.parametrize("method", ["temperature", "platt", "isotonic"])
def test_calibrators_improve_held_out_calibration_and_round_trip(method):
    raw, y = _overconfident(seed=1)
    cal = Calibrator(method, prior_fit=[1 / 3] * 3, prior_real=[1 / 3] * 3).fit(raw[:2000], y[:2000])
    after = cal.transform(raw[2000:])
    np.testing.assert_allclose(after.sum(1), 1.0)
    assert brier_score(y[2000:], after) < brier_score(y[2000:], raw[2000:])
    again = Calibrator.from_dict(cal.to_dict())
    np.testing.assert_array_equal(again.transform(raw[2000:]), after)


def test_unknown_calibration_method():
    with pytest.raises(ConfigError, match="calibration.method"):
        Calibrator("magic")


def test_predictions_csv_round_trip_and_bad_file(tmp_path):
    table = PredictionTable(ids=["a", "synthetic-0001"], patients=np.array(["p1", "synthetic-0001"]),
                            repeats=np.array([0, 0]), folds=np.array([0, 0]), synthetic=np.array([0, 1]),
                            paths=["/x/a.png", ""], y_true=np.array([0, 1]), proba=np.array([[0.7, 0.3], [0.2, 0.8]]),
                            proba_raw=np.array([[0.6, 0.4], [0.1, 0.9]]), classes=("normal", "abnormal"),
                            extra={"parents": ["", "a|b"]})
    path = write_predictions(tmp_path / "predictions.csv", table)
    header = path.read_text().splitlines()[0].split(",")
    assert header[:8] == ["id", "patient", "repeat", "fold", "synthetic", "path", "y_true", "y_pred"]
    assert "prob_abnormal" in header and "raw_prob_normal" in header
    back = read_predictions(path)
    assert back.classes == ("normal", "abnormal") and back.ids == table.ids
    np.testing.assert_allclose(back.proba, table.proba)
    assert back.extra == {"parents": ["", "a|b"]}
    bad = tmp_path / "bad.csv"
    bad.write_text("id,patient\nx,y\n")
    with pytest.raises(InputFileError, match="missing column"):
        read_predictions(bad)
    with pytest.raises(InputFileError, match="not found"):
        read_predictions(tmp_path / "none.csv")


def test_evaluate_run_recomputes_from_predictions(tmp_path):
    from mammokit.evaluate import evaluate_run

    rng = np.random.default_rng(3)
    n = 40
    y = rng.integers(0, 3, n)
    p = rng.dirichlet(np.ones(3), n)
    table = PredictionTable(ids=[f"i{k}" for k in range(n)], patients=np.array([f"p{k // 2}" for k in range(n)]),
                            repeats=np.zeros(n, int), folds=np.arange(n) % 4, synthetic=np.zeros(n, int),
                            paths=[""] * n, y_true=y, proba=p, proba_raw=p, classes=("normal", "benign", "malignant"),
                            extra={})
    write_predictions(tmp_path / "predictions.csv", table)
    m = evaluate_run(tmp_path, n_boot=50, write=True)
    assert m["metrics"]["accuracy"]["value"] == pytest.approx(scalar_metrics(y, p, 3)["accuracy"])
    assert m["n_test_rows"] == n and m["positive_class"] == "malignant"
    assert m["calibration"]["before"] == m["calibration"]["after"]  # raw == calibrated here
    assert (tmp_path / "metrics.json").is_file()
    with pytest.raises(InputFileError, match="run folder not found"):
        evaluate_run(tmp_path / "missing")
    (tmp_path / "predictions.csv").unlink()
    with pytest.raises(InputFileError, match="predictions file not found"):
        evaluate_run(tmp_path)
