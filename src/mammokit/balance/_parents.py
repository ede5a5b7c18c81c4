"""Recover the two real rows each synthetic (SMOTE-family) row was interpolated between.

SMOTE makes ``s = x_i + u * (x_j - x_i)`` with ``u`` in [0, 1) and ``x_j`` a same-class
neighbour of ``x_i``. We find, for every synthetic row, the pair of real rows of its class
whose segment passes through it (smallest distance from the segment), so Module 1's
report can count test rows that were made out of training images. This works for any
sampler that interpolates between two real rows (SMOTE, Borderline-SMOTE, ADASYN) and for
random oversampling (a copy: both parents are the same row). It does not depend on the
sampler's internal neighbour search, only on the geometry of its output.
"""
from __future__ import annotations

import numpy as np


def _best_pair(s: np.ndarray, Xc: np.ndarray, cand_i: np.ndarray, cand_j: np.ndarray):
    """Pair (i, j) among candidate pairs whose segment is closest to ``s``; (dist, i, j, u)."""
    a = Xc[cand_i]
    d = Xc[cand_j] - a
    v = s - a
    dd = np.einsum("ij,ij->i", d, d)
    u = np.where(dd > 0, np.einsum("ij,ij->i", v, d) / np.where(dd > 0, dd, 1.0), 0.0)
    u = np.clip(u, 0.0, 1.0)
    resid = v - u[:, None] * d
    dist = np.sqrt(np.einsum("ij,ij->i", resid, resid))
    k = int(np.argmin(dist))
    return float(dist[k]), int(cand_i[k]), int(cand_j[k]), float(u[k])


def find_synthetic_parents(
    X_real: np.ndarray,
    y_real: np.ndarray,
    X_syn: np.ndarray,
    y_syn: np.ndarray,
    *,
    k_neighbors: int = 10,
    rtol: float = 1e-4,
) -> np.ndarray:
    """Parents of synthetic rows as an (n_syn, 2) int array of indices into ``X_real``.

    A row with no segment within ``rtol`` (relative to the data scale) gets ``-1, -1``.
    Candidate pairs are first each real row with its ``k_neighbors`` nearest same-class rows
    (what SMOTE uses); rows not explained by those are searched against every same-class pair.
    A copy of a real row (random oversampling) gets that row twice.
    """
    X_real = np.asarray(X_real, dtype=np.float64)
    X_syn = np.asarray(X_syn, dtype=np.float64)
    y_real = np.asarray(y_real)
    y_syn = np.asarray(y_syn)
    parents = np.full((len(X_syn), 2), -1, dtype=int)
    if len(X_syn) == 0:
        return parents
    scale = float(np.abs(X_real).max()) or 1.0
    tol = rtol * scale * np.sqrt(X_real.shape[1])
    for cls in np.unique(y_syn):
        members = np.flatnonzero(y_real == cls)
        syn_rows = np.flatnonzero(y_syn == cls)
        if len(members) == 0:
            continue
        Xc = X_real[members]
        n = len(Xc)
        sq = np.einsum("ij,ij->i", Xc, Xc)
        dist2 = sq[:, None] + sq[None, :] - 2 * Xc @ Xc.T
        k = min(k_neighbors, n - 1)
        order = np.argsort(dist2, axis=1, kind="stable")
        # each row with itself (a copy, u = 0) plus its k nearest neighbours
        knn_i = np.repeat(np.arange(n), k + 1)
        knn_j = order[:, : k + 1].reshape(-1)
        S = X_syn[syn_rows]
        # Distances from every synthetic row to every kNN segment at once, by dot products:
        # |s - a - u d|^2 = |s - a|^2 - 2u <s - a, d> + u^2 |d|^2, with u clipped to [0, 1].
        A, D = Xc[knn_i], Xc[knn_j] - Xc[knn_i]
        dd = np.einsum("ij,ij->i", D, D)
        sa = np.einsum("ij,ij->i", S, S)[:, None] - 2 * S @ A.T + sq[knn_i][None, :]
        sd = S @ D.T - np.einsum("ij,ij->i", A, D)[None, :]
        u = np.clip(np.where(dd > 0, sd / np.where(dd > 0, dd, 1.0), 0.0), 0.0, 1.0)
        best = np.argmin(sa - 2 * u * sd + u**2 * dd, axis=1)
        all_i, all_j = np.triu_indices(n)
        for row, r in enumerate(syn_rows):
            # confirm the best candidate exactly; search every pair only when it does not fit
            pick = best[row : row + 1]
            dist, i, j, u_ = _best_pair(X_syn[r], Xc, knn_i[pick], knn_j[pick])
            if dist > tol:
                dist, i, j, u_ = _best_pair(X_syn[r], Xc, all_i, all_j)
            if dist <= tol:
                # at an end of the segment the row is a copy of that end: one parent only
                if u_ <= 1e-9:
                    j = i
                elif u_ >= 1 - 1e-9:
                    i = j
                parents[r] = members[i], members[j]
    return parents
