"""Every classifier passes every check of mammokit.models.estimator_checks (imbalanced-learn's pattern).

The lesion model is a pipeline of parts on cell maps, not an estimator on rows; its row-level parts
(the cell classifier, the aggregator) are checked where they take (X, y) arrays.
"""
from __future__ import annotations

import numpy as np
import pytest

from mammokit.models import DenseHead, make_logistic
from mammokit.models._cnn_lstm import CnnLstmClassifier
from mammokit.models.estimator_checks import CHECKS


def _data(n=90, d=12, k=3, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % k
    X = rng.normal(size=(n, d)) + y[:, None] * 0.8  # separable enough that every class is predicted
    return X.astype(np.float32), y


ESTIMATORS = {
    "dense_head": DenseHead(epochs=5, patience=2, random_state=3),
    "dense_head_class_weight": DenseHead(epochs=5, patience=2, class_weight="balanced", random_state=3),
    "logistic": make_logistic(C=1.0, random_state=3),
    "cnn_lstm": CnnLstmClassifier(seq_len=4, proj=8, lstm_hidden=4, epochs=3, patience=2, random_state=3),
}


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_estimator_contract(name, check):
    X, y = _data()
    check(ESTIMATORS[name], X, y)


def test_a_broken_estimator_fails_the_checks():
    """The checks can fail: an estimator that accepts NaN and ignores its seed is caught."""
    from sklearn.base import BaseEstimator, ClassifierMixin

    from mammokit.models.estimator_checks import check_deterministic_under_seed, check_rejects_bad_input

    class Sloppy(ClassifierMixin, BaseEstimator):
        def fit(self, X, y):
            self.classes_ = np.unique(y)
            return self

        def predict_proba(self, X):
            p = np.random.default_rng().random((len(X), len(self.classes_)))
            return p / p.sum(axis=1, keepdims=True)

    X, y = _data()
    with pytest.raises(AssertionError, match="Sloppy: two fits"):
        check_deterministic_under_seed(Sloppy(), X, y)
    with pytest.raises(AssertionError, match="Sloppy: NaN in X was accepted"):
        check_rejects_bad_input(Sloppy(), X, y)
