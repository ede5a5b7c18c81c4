"""Patient-grouped, class-stratified splits (both breasts of a woman on one side)."""
from __future__ import annotations

import warnings

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from ..errors import DatasetError


def grouped_holdout(y, groups, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(keep, held_out) row indices: about ``fraction`` of the patients held out, stratified by class.

    Implemented as the first fold of a shuffled StratifiedGroupKFold with round(1/fraction) folds.
    """
    y = np.asarray(y)
    groups = np.asarray(groups)
    if not 0 < fraction < 1:
        raise DatasetError(f"split fraction must be between 0 and 1, got {fraction}")
    n_splits = max(2, round(1 / fraction))
    n_groups = len(np.unique(groups))
    if n_groups < n_splits:
        raise DatasetError(f"cannot hold out {fraction:.0%} by patient: only {n_groups} patients")
    return next(grouped_kfold(y, groups, n_splits, seed))


def grouped_kfold(y, groups, n_splits: int, seed: int):
    """Yield (train, test) index arrays of a shuffled StratifiedGroupKFold."""
    y = np.asarray(y)
    groups = np.asarray(groups)
    n_groups = len(np.unique(groups))
    if n_groups < n_splits:
        raise DatasetError(f"cannot make {n_splits} patient-grouped folds from {n_groups} patients")
    cv = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        # "least populated class has fewer members than n_splits": a fact of tiny classes, not an error
        warnings.simplefilter("ignore", UserWarning)
        yield from cv.split(np.zeros(len(y)), y, groups)
