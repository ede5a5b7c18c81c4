"""Balancing: imbalanced-learn samplers, k adapted to tiny classes, audit records, SMOTE parents."""
from __future__ import annotations

import numpy as np
import pytest

from mammokit.balance import (
    BALANCE_METHODS,
    RESAMPLING_METHODS,
    Audit,
    AuditedSampler,
    find_synthetic_parents,
    make_sampler,
    row_digests,
)
from mammokit.errors import ConfigError


def _imbalanced(n_major=40, n_minor=8, d=6, seed=0):
    rng = np.random.default_rng(seed)
    X = np.vstack([rng.normal(0, 1, (n_major, d)), rng.normal(2, 1, (n_minor, d))]).astype(np.float32)
    y = np.array([0] * n_major + [1] * n_minor)
    return X, y


@pytest.mark.parametrize("method", RESAMPLING_METHODS)
def test_resampling_balances_and_keeps_real_rows_first(method):
    X, y = _imbalanced()
    Xr, yr = AuditedSampler(method, random_state=0).fit_resample(X, y)
    counts = np.bincount(yr)
    # ADASYN aims at balance but its per-point rounding can miss by a few rows
    assert abs(counts[0] - counts[1]) <= (3 if method == "adasyn" else 0)
    np.testing.assert_array_equal(Xr[: len(X)], X)
    np.testing.assert_array_equal(yr[: len(y)], y)


@pytest.mark.parametrize("method", ["none", "class_weight"])
def test_non_resampling_methods_return_rows_unchanged(method):
    X, y = _imbalanced()
    assert make_sampler(method, y) is None
    Xr, yr = AuditedSampler(method).fit_resample(X, y)
    assert Xr is X and yr is y


@pytest.mark.parametrize("method,attr", [("smote", "k_neighbors"), ("borderline_smote", "k_neighbors"),
                                         ("adasyn", "n_neighbors")])
def test_k_neighbors_adapted_to_smallest_class(method, attr):
    X, y = _imbalanced(n_minor=3)
    sampler = make_sampler(method, y)
    assert getattr(sampler, attr) == 2  # a class of 3 rows has 2 neighbours
    _, yr = AuditedSampler(method).fit_resample(X, y)  # and it runs instead of failing
    assert len(yr) > len(y)


def test_class_of_one_falls_back_to_duplication():
    _, y = _imbalanced(n_minor=1)
    assert type(make_sampler("smote", y)).__name__ == "RandomOverSampler"


def test_unknown_method_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown method 'smoteish'"):
        make_sampler("smoteish")
    with pytest.raises(ConfigError):
        AuditedSampler("smoteish")
    assert set(RESAMPLING_METHODS) < set(BALANCE_METHODS)


def test_audited_sampler_records_exactly_the_rows_it_saw():
    X, y = _imbalanced()
    audit = Audit()
    AuditedSampler("smote", audit=audit, context="fold0").fit_resample(X[10:], y[10:])
    seen = audit.indices_seen("fold0", X, stage="sampler")
    np.testing.assert_array_equal(seen, np.arange(10, len(X)))
    assert audit.contexts() == ["fold0"]
    # float32 and float64 copies of a row have the same digest
    assert row_digests(X[:2]) == row_digests(X[:2].astype(np.float64))


def test_parents_recovered_on_a_hand_made_segment():
    X = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0], [9.0, 9.0]])
    y = np.array([1, 1, 1, 0])
    X_syn = np.array([[1.0, 0.0],  # 1/4 of the way from row 0 to row 1
                      [0.0, 3.0],  # 3/4 of the way from row 0 to row 2
                      [4.0, 0.0],  # a copy of row 1 (random oversampling)
                      [3.0, 3.0]])  # on no segment between class-1 rows
    y_syn = np.array([1, 1, 1, 1])
    parents = find_synthetic_parents(X, y, X_syn, y_syn)
    assert sorted(parents[0]) == [0, 1]
    assert sorted(parents[1]) == [0, 2]
    assert list(parents[2]) == [1, 1]
    # (3, 3) is not on any segment between (0,0), (4,0), (0,4): unidentified
    assert list(parents[3]) == [-1, -1]


def test_parents_of_real_smote_output_lie_on_their_segments():
    X, y = _imbalanced(n_major=30, n_minor=10, d=20)
    sampler = make_sampler("smote", y, random_state=3)
    Xr, yr = sampler.fit_resample(X, y)
    n = len(X)
    parents = find_synthetic_parents(X, y, Xr[n:], yr[n:])
    assert (parents >= 0).all()
    assert (y[parents] == 1).all()  # both parents from the synthetic row's own class
    a, b, s = X[parents[:, 0]].astype(float), X[parents[:, 1]].astype(float), Xr[n:].astype(float)
    d = b - a
    u = np.einsum("ij,ij->i", s - a, d) / np.einsum("ij,ij->i", d, d)
    assert np.all((u >= -1e-6) & (u <= 1 + 1e-6))
    np.testing.assert_allclose(a + u[:, None] * d, s, atol=1e-5)
