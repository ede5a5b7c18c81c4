"""The logistic-regression baseline on the same features, and its torch twin for Grad-CAM."""
from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression


def make_logistic(*, C: float = 1.0, max_iter: int = 2000, class_weight: str | None = None,
                  random_state: int = 0) -> LogisticRegression:
    """Multinomial L2 logistic regression (lbfgs, deterministic)."""
    return LogisticRegression(C=C, max_iter=max_iter, class_weight=class_weight, random_state=random_state)


def logistic_as_module(model: LogisticRegression):
    """A fitted LogisticRegression as nn.Linear producing logits whose softmax equals predict_proba
    (torch imported here: loading and predicting with a logistic bundle does not need it)."""
    import torch
    from torch import nn

    coef = np.asarray(model.coef_, dtype=np.float32)
    intercept = np.asarray(model.intercept_, dtype=np.float32)
    if coef.shape[0] == 1:  # binary: sklearn stores one row; softmax([0, z]) == sigmoid(z)
        coef = np.vstack([np.zeros_like(coef), coef])
        intercept = np.concatenate([[0.0], intercept]).astype(np.float32)
    lin = nn.Linear(coef.shape[1], coef.shape[0])
    with torch.no_grad():
        lin.weight.copy_(torch.from_numpy(coef))
        lin.bias.copy_(torch.from_numpy(intercept))
    return lin


def logistic_from_arrays(coef: np.ndarray, intercept: np.ndarray, classes) -> LogisticRegression:
    """Rebuild a fitted LogisticRegression from its arrays (bundle loading, no pickle)."""
    m = LogisticRegression()
    m.coef_ = np.asarray(coef)  # keep the fitted dtype: float32 fits must predict bit-identically
    m.intercept_ = np.asarray(intercept)
    m.classes_ = np.asarray(classes)
    m.n_features_in_ = m.coef_.shape[1]
    return m
