"""Input checks the estimators share (sklearn's validation plus one line naming the estimator)."""
from __future__ import annotations

import numpy as np
from sklearn.utils.validation import check_array, check_is_fitted


def check_predict_input(est, X, fitted: str, dtype="numeric") -> np.ndarray:
    """``X`` for a fitted estimator's predict: fitted (``fitted`` is set), 2-D, finite, with as many features
    as at fit time; ValueError (NotFittedError is one) naming the estimator otherwise."""
    check_is_fitted(est, fitted)
    X = check_array(X, dtype=dtype)
    if X.shape[1] != est.n_features_in_:
        raise ValueError(f"{type(est).__name__}: X has {X.shape[1]} features, the model was fitted on "
                         f"{est.n_features_in_}")
    return X
