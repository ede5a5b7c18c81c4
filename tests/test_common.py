"""Every classifier passes every check of mammokit.models.estimator_checks (imbalanced-learn's pattern).

The lesion model is a pipeline of parts on cell maps, not an estimator on rows; its row-level parts, the
binary cell classifier (on cell-feature rows) and the aggregator (on image-feature rows, both kinds), are
the classifiers checked here: the very estimators LesionModel.fit fits.
"""
from __future__ import annotations

import numpy as np
import pytest

from mammokit.models import DenseHead, make_logistic
from mammokit.models._cnn_lstm import CnnLstmClassifier
from mammokit.models.estimator_checks import CHECKS
from mammokit.models.lesion import AggregatorClassifier, CellClassifier


def _data(n=90, d=12, k=3, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % k
    X = rng.normal(size=(n, d)) + y[:, None] * 0.8  # separable enough that every class is predicted
    return X.astype(np.float32), y


# The aggregator's hierarchical kind reads which columns are lesion (abn_) and malignancy (mal_) evidence.
_NAMES = tuple(f"abn_{i}" for i in range(6)) + tuple(f"mal_{i}" for i in range(6))

# name: (unfitted estimator, number of classes of its data)
ESTIMATORS = {
    "dense_head": (DenseHead(epochs=5, patience=2, random_state=3), 3),
    "dense_head_class_weight": (DenseHead(epochs=5, patience=2, class_weight="balanced", random_state=3), 3),
    "logistic": (make_logistic(C=1.0, random_state=3), 3),
    "cnn_lstm": (CnnLstmClassifier(seq_len=4, proj=8, lstm_hidden=4, epochs=3, patience=2, random_state=3), 3),
    "lesion_aggregator": (AggregatorClassifier(C=1.0), 3),
    "lesion_aggregator_hierarchical": (AggregatorClassifier(C=1.0, kind="hierarchical", feature_names=_NAMES), 3),
    "lesion_cells": (CellClassifier(n_components=4, C=0.05, random_state=3), 2),
    "lesion_cells_smote": (CellClassifier(n_components=4, C=0.05, balance="smote", random_state=3), 2),
    "lesion_cells_no_pca": (CellClassifier(n_components=0, C=0.05, balance="none", random_state=3), 2),
}


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_estimator_contract(name, check):
    est, k = ESTIMATORS[name]
    X, y = _data(k=k)
    check(est, X, y)


def test_lesion_parts_refuse_what_the_lesion_model_cannot_use():
    """Labels outside the lesion task and a hierarchical aggregator without its column names are refused
    with one line naming the estimator; a cell classifier's reused basis must fit X."""
    X, y = _data(k=3)
    with pytest.raises(ValueError, match=r"AggregatorClassifier: labels must be 0 \(normal\)"):
        AggregatorClassifier().fit(X, y + 1)
    with pytest.raises(ValueError, match="AggregatorClassifier: hierarchical needs one feature name per column"):
        AggregatorClassifier(kind="hierarchical", feature_names=_NAMES[:3]).fit(X, y)
    with pytest.raises(ValueError, match="AggregatorClassifier: kind 'tree'"):
        AggregatorClassifier(kind="tree").fit(X, y)
    with pytest.raises(ValueError, match="CellClassifier: fit needs both classes 0 and 1"):
        CellClassifier().fit(X, y)  # three classes
    Xb, yb = _data(k=2)
    fitted = CellClassifier(n_components=4).fit(Xb, yb)
    with pytest.raises(ValueError, match="CellClassifier: the given basis is for 12 features, X has 6"):
        CellClassifier(n_components=4).fit(Xb[:, :6], yb, basis=fitted.basis_)
    with pytest.raises(ValueError, match="CellClassifier: balance 'magic'"):
        CellClassifier(balance="magic").fit(Xb, yb)


def test_the_cell_classifier_is_its_folded_linear_score():
    """predict_proba is the logistic of the one weight vector the heatmaps use, on raw features."""
    X, y = _data(k=2)
    clf = CellClassifier(n_components=4, random_state=3).fit(X, y)
    logits = X.astype(np.float32) @ clf.linear_.w + clf.linear_.b
    np.testing.assert_allclose(clf.predict_proba(X)[:, 1], 1 / (1 + np.exp(-logits.astype(np.float64))), rtol=1e-6)
    assert (clf.predict(X) == y).mean() > 0.8  # separable synthetic data: it must learn


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
