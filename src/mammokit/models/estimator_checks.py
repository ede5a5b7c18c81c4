"""Checks every classifier of mammokit must pass, run over all of them by tests/test_common.py.

In the manner of imbalanced-learn's ``utils/estimator_checks.py``: each check takes an unfitted estimator
and a small data set, and raises AssertionError with a message naming the estimator and the broken rule.

- fit / predict shapes: ``predict_proba`` is (n, classes) with rows summing to 1, ``predict`` returns
  known classes, ``classes_`` are the sorted labels;
- determinism: two fits with the same ``random_state`` give the same probabilities to the last bit;
- clone-ability: ``sklearn.base.clone`` gives an unfitted copy with equal parameters, which fits to the
  same probabilities;
- bad input is refused with ValueError (or a MammokitError): NaN or inf in X, X and y of different
  lengths, one class only, and at predict time the wrong number of features.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.base import clone

from ..errors import MammokitError

REFUSED = (ValueError, MammokitError)


def _name(est) -> str:
    return type(est).__name__


def check_fit_predict_shapes(est, X, y) -> None:
    fitted = clone(est).fit(X, y)
    labels = np.unique(y)
    assert np.array_equal(fitted.classes_, labels), f"{_name(est)}: classes_ {fitted.classes_} != {labels}"
    P = fitted.predict_proba(X)
    assert P.shape == (len(X), len(labels)), f"{_name(est)}: predict_proba shape {P.shape}"
    assert np.all(np.isfinite(P)) and np.allclose(P.sum(axis=1), 1.0, atol=1e-6), \
        f"{_name(est)}: probabilities must be finite and sum to 1"
    pred = fitted.predict(X[:5])
    assert pred.shape == (5,) and set(pred) <= set(labels), f"{_name(est)}: predict returned {pred}"


def check_deterministic_under_seed(est, X, y) -> None:
    a = clone(est).fit(X, y).predict_proba(X)
    b = clone(est).fit(X, y).predict_proba(X)
    assert np.array_equal(a, b), f"{_name(est)}: two fits with one random_state differ (max {np.abs(a - b).max()})"


def check_clone(est, X, y) -> None:
    fitted = clone(est).fit(X, y)
    copy = clone(fitted)
    assert not hasattr(copy, "classes_"), f"{_name(est)}: clone kept fitted state"
    assert copy.get_params() == fitted.get_params(), f"{_name(est)}: clone changed parameters"
    assert np.array_equal(copy.fit(X, y).predict_proba(X), fitted.predict_proba(X)), \
        f"{_name(est)}: a clone fits to other probabilities"


def _refuses(fn: Callable[[], object], what: str, est) -> None:
    try:
        fn()
    except REFUSED:
        return
    raise AssertionError(f"{_name(est)}: {what} was accepted; it must raise ValueError or a MammokitError")


def check_rejects_bad_input(est, X, y) -> None:
    for bad, what in ((np.nan, "NaN in X"), (np.inf, "inf in X")):
        Xb = np.array(X, dtype=np.float64, copy=True)
        Xb[0, 0] = bad
        _refuses(lambda Xb=Xb: clone(est).fit(Xb, y), what, est)
    _refuses(lambda: clone(est).fit(X, y[:-1]), "X and y of different lengths", est)
    _refuses(lambda: clone(est).fit(X, np.full(len(y), y[0])), "a single class", est)
    fitted = clone(est).fit(X, y)
    _refuses(lambda: fitted.predict_proba(np.hstack([X, X])), "predict with the wrong number of features", est)
    Xn = np.array(X, dtype=np.float64, copy=True)
    Xn[1, 1] = np.nan
    _refuses(lambda: fitted.predict_proba(Xn), "NaN in X at predict time", est)


CHECKS = (check_fit_predict_shapes, check_deterministic_under_seed, check_clone, check_rejects_bad_input)
