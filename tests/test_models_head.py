"""The paper's dense head (128-256-128, BN+ReLU+Dropout 0.5) and the logistic baseline."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from imblearn.over_sampling import SMOTE
from imblearn.pipeline import Pipeline
from sklearn.datasets import make_classification
from sklearn.preprocessing import StandardScaler
from torch import nn

from mammokit.errors import ConfigError
from mammokit.models import (
    DenseHead,
    build_head,
    logistic_as_module,
    logistic_from_arrays,
    make_logistic,
    make_model,
)


def _data(n=160, d=24, classes=3, seed=0):
    X, y = make_classification(n, d, n_informative=8, n_classes=classes, weights=None, random_state=seed)
    return X.astype(np.float32), y


def test_architecture_matches_the_paper():
    net = build_head(1280, 3)
    linears = [m for m in net if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(1280, 128), (128, 256), (256, 128), (128, 3)]
    kinds = [type(m).__name__ for m in net]
    assert kinds == ["Linear", "BatchNorm1d", "ReLU", "Dropout"] * 3 + ["Linear"]
    assert all(m.p == 0.5 for m in net if isinstance(m, nn.Dropout))


@pytest.mark.parametrize("n_classes", [2, 3])
def test_fit_predict_proba_learns_and_sums_to_one(n_classes):
    X, y = _data(classes=n_classes)
    head = DenseHead(epochs=60, patience=60, random_state=0).fit(X, y)
    p = head.predict_proba(X)
    assert p.shape == (len(X), n_classes)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(head.classes_, np.arange(n_classes))
    assert (head.predict(X) == y).mean() > 0.8  # separable synthetic data: it must learn


def test_same_seed_same_weights_different_seed_different():
    X, y = _data()
    a = DenseHead(epochs=8, random_state=1).fit(X, y).predict_proba(X)
    b = DenseHead(epochs=8, random_state=1).fit(X, y).predict_proba(X)
    c = DenseHead(epochs=8, random_state=2).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_early_stopping_uses_the_given_validation_rows_and_stops():
    X, y = _data()
    rng = np.random.default_rng(0)
    y_noise = rng.integers(0, 3, len(y))  # validation labels unrelated to X: its loss rises quickly
    head = DenseHead(epochs=200, patience=5, random_state=0).fit(X[:120], y[:120], X_val=X[120:],
                                                               y_val=y_noise[120:])
    assert head.n_epochs_ < 200
    assert head.n_epochs_ == head.best_epoch_ + 1 + 5
    assert len(head.history_["val_loss"]) == head.n_epochs_


def test_class_weight_balanced_raises_minority_recall():
    X, y = make_classification(300, 10, n_informative=3, n_classes=2, weights=[0.9, 0.1], class_sep=0.4,
                               random_state=1)
    plain = DenseHead(epochs=30, patience=30, val_fraction=0, random_state=0).fit(X, y)
    weighted = DenseHead(epochs=30, patience=30, val_fraction=0, class_weight="balanced", random_state=0).fit(X, y)
    assert (weighted.predict(X)[y == 1] == 1).mean() > (plain.predict(X)[y == 1] == 1).mean()


def test_fits_in_an_imblearn_pipeline():
    X, y = _data()
    pipe = Pipeline([("scale", StandardScaler()), ("smote", SMOTE(random_state=0)),
                     ("head", DenseHead(epochs=5, random_state=0))])
    pipe.fit(X, y)
    assert pipe.predict_proba(X).shape == (len(X), 3)
    assert list(pipe.classes_) == [0, 1, 2]


def test_state_round_trip_gives_identical_probabilities():
    X, y = _data()
    head = DenseHead(epochs=5, random_state=0).fit(X, y)
    again = DenseHead.from_state(head.state(), head.classes_)
    np.testing.assert_array_equal(head.predict_proba(X), again.predict_proba(X))


def test_bad_inputs():
    with pytest.raises(ValueError):
        DenseHead(epochs=2).fit(np.zeros((10, 3), np.float32), np.zeros(9))
    with pytest.raises(ConfigError, match="unknown model 'svm'"):
        make_model({"type": "svm"})
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        DenseHead().predict_proba(np.zeros((2, 3)))


@pytest.mark.parametrize("n_classes", [2, 3])
def test_logistic_torch_twin_matches_predict_proba(n_classes):
    X, y = _data(classes=n_classes)
    lr = make_logistic().fit(X, y)
    with torch.no_grad():
        p = torch.softmax(logistic_as_module(lr)(torch.from_numpy(X)), dim=1).numpy()
    np.testing.assert_allclose(p, lr.predict_proba(X), atol=1e-5)
    rebuilt = logistic_from_arrays(lr.coef_, lr.intercept_, lr.classes_)
    np.testing.assert_allclose(rebuilt.predict_proba(X), lr.predict_proba(X), atol=1e-6)
    assert isinstance(make_model({"type": "logistic"}), type(lr))
