"""Sampler factory over imbalanced-learn, with SMOTE-family k adapted to tiny classes."""
from __future__ import annotations

import numpy as np
from imblearn.over_sampling import ADASYN, SMOTE, BorderlineSMOTE, RandomOverSampler

from ..errors import ConfigError
from ._audit import Audit

# "none" trains on the data as is; "class_weight" re-weights the loss instead of resampling.
BALANCE_METHODS = ("none", "class_weight", "random_oversample", "smote", "borderline_smote", "adasyn")
RESAMPLING_METHODS = ("random_oversample", "smote", "borderline_smote", "adasyn")
_DEFAULT_K = 5


def _check(name: str) -> None:
    if name not in BALANCE_METHODS:
        raise ConfigError(f"balance: unknown method {name!r}; choose one of {', '.join(BALANCE_METHODS)}")


def make_sampler(name: str, y: np.ndarray | None = None, *, random_state: int = 0, k_neighbors: int = _DEFAULT_K):
    """The imbalanced-learn sampler for ``name`` (None for "none"/"class_weight").

    With ``y`` given, SMOTE-family neighbour counts are lowered to fit the smallest class
    (SMOTE needs k < class size); a class of one row cannot be interpolated and is
    oversampled by duplication instead.
    """
    _check(name)
    if name not in RESAMPLING_METHODS:
        return None
    if name == "random_oversample":
        return RandomOverSampler(random_state=random_state)
    k = k_neighbors
    if y is not None:
        smallest = int(np.bincount(np.unique(np.asarray(y), return_inverse=True)[1]).min())
        if smallest < 2:
            return RandomOverSampler(random_state=random_state)
        k = max(1, min(k_neighbors, smallest - 1))
    if name == "smote":
        return SMOTE(k_neighbors=k, random_state=random_state)
    if name == "borderline_smote":
        # m_neighbors looks at the whole data set (every class), so it can stay at its default.
        return BorderlineSMOTE(k_neighbors=k, random_state=random_state)
    return ADASYN(n_neighbors=k, random_state=random_state)


class AuditedSampler:
    """Wraps a balance method; records every row it is fitted on in ``audit``.

    ``fit_resample`` returns the real rows first (unchanged) followed by new rows, as
    imbalanced-learn does; ``n_original_`` says where the new rows start.
    """

    def __init__(self, name: str, *, random_state: int = 0, audit: Audit | None = None, context: str = ""):
        _check(name)
        self.name = name
        self.random_state = random_state
        self.audit = audit
        self.context = context

    def fit_resample(self, X: np.ndarray, y: np.ndarray):
        if self.audit is not None:
            self.audit.record(self.context, "sampler", X)
        self.sampler_ = make_sampler(self.name, y, random_state=self.random_state)
        self.n_original_ = len(X)
        if self.sampler_ is None:
            return X, y
        # ADASYN refuses when no neighbourhood is "hard"; fall back to SMOTE rather than fail a fold.
        try:
            Xr, yr = self.sampler_.fit_resample(X, y)
        except (RuntimeError, ValueError) as exc:
            if self.name != "adasyn":
                raise
            self.fallback_ = str(exc)
            self.sampler_ = make_sampler("smote", y, random_state=self.random_state)
            Xr, yr = self.sampler_.fit_resample(X, y)
        return np.asarray(Xr), np.asarray(yr)
