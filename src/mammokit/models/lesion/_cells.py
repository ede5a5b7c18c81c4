"""Cell classifiers: linear models on feature-map cells, per input size, for lesion vs normal tissue and for
malignant vs benign lesion; their logits over every cell of an image are its heatmaps. ``CellClassifier`` is
one of them as a scikit-learn classifier (it passes ``models.estimator_checks``); what it fits is a
``LinearCellClassifier`` (a weight vector and a bias), which the lesion bundle stores.

Every fitted part is linear in the cell features (standardise -> PCA -> logistic collapses to one weight
vector), so applying it to every cell of every image is one tensor contraction per input size.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_X_y

from ...datasets import Record
from ...features import CellMaps
from .._checks import check_predict_input
from ._heatmap import combine_scales
from ._patches import NEGATIVE, training_cells
from ._settings import BALANCES, LesionSettings


@dataclass
class LinearCellClassifier:
    """A fitted cell classifier: score(cell) = w . x + b on raw cell features (standardise, PCA and logistic
    folded together). Made by ``CellClassifier.fit`` or loaded from a bundle."""

    w: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    b: float = 0.0

    def score(self, features: np.ndarray) -> np.ndarray:
        """(N, C, h, w) or (C, h, w) or (n, C) rows -> logits with the channel axis contracted."""
        f = np.asarray(features)
        if f.ndim == 2:
            return f.astype(np.float32) @ self.w + self.b
        axis = f.ndim - 3
        return np.tensordot(f.astype(np.float32), self.w, axes=([axis], [0])) + self.b


class CellClassifier(ClassifierMixin, BaseEstimator):
    """One binary cell classifier (lesion vs normal tissue, or malignant vs benign lesion) as a scikit-learn
    classifier on cell-feature rows, y in {0, 1}: standardise -> PCA (``n_components``, 0: none) -> logistic
    regression (inverse L2 strength ``C``), balanced per ``balance``; ``linear_`` is the same model folded into
    one weight vector on the raw features, what the heatmaps and the bundle use.

    ``fit(X, y, basis=...)`` reuses a projection (``basis_`` of an earlier fit: mean, sd, PCA components and
    the projected mean and sd) instead of fitting one: the label-free part is shared by the hard-negative
    rounds, the malignancy head and the inner folds of one outer fold."""

    def __init__(self, n_components: int = 64, C: float = 0.05, balance: str = "class_weight",
                 random_state: int = 0):
        self.n_components = n_components
        self.C = C
        self.balance = balance
        self.random_state = random_state

    def fit(self, X, y, basis: tuple | None = None):
        name = type(self).__name__
        # sklearn's checks: 2-D, finite, as many labels as rows (ValueError naming the problem)
        X, y = check_X_y(X, y, dtype=np.float32, ensure_min_samples=2)
        labels = np.unique(y)
        if labels.tolist() != [0, 1]:
            raise ValueError(f"{name}: fit needs both classes 0 and 1 (1: the cell kind scored), got {labels.tolist()}")
        if self.balance not in BALANCES:
            raise ValueError(f"{name}: balance {self.balance!r} is not one of {', '.join(BALANCES)}")
        if basis is not None and len(basis[0]) != X.shape[1]:
            raise ValueError(f"{name}: the given basis is for {len(basis[0])} features, X has {X.shape[1]}")
        seed = self.random_state
        if basis is None:
            mu, sd = X.mean(0), X.std(0) + 1e-6
            Z = (X - mu) / sd
            if self.n_components and self.n_components < min(Z.shape):
                pca = PCA(n_components=self.n_components, svd_solver="randomized", random_state=seed).fit(Z)
                P = pca.components_.T.astype(np.float32)
            else:
                P = np.eye(X.shape[1], dtype=np.float32)
            T = Z @ P
            basis = (mu, sd, P, T.mean(0), T.std(0) + 1e-6)
        mu, sd, P, tmu, tsd = basis
        T = ((X - mu) / sd @ P - tmu) / tsd
        yy = np.asarray(y).astype(int)
        if self.balance in ("smote", "random_oversample"):
            from ...balance import make_sampler

            T, yy = make_sampler(self.balance, yy, random_state=seed).fit_resample(T, yy)
        lr = LogisticRegression(C=self.C, class_weight="balanced" if self.balance == "class_weight" else None,
                                max_iter=2000)
        lr.fit(T, yy)
        coef = lr.coef_[0] / tsd
        w = (P @ coef) / sd
        b = float(lr.intercept_[0] - coef @ tmu - w @ mu)
        self.linear_ = LinearCellClassifier(w.astype(np.float32), b)
        self.basis_ = basis
        self.classes_ = labels
        self.n_features_in_ = X.shape[1]
        return self

    def decision_function(self, X) -> np.ndarray:
        return self.linear_.score(check_predict_input(self, X, "linear_", dtype=np.float32))

    def predict_proba(self, X) -> np.ndarray:
        p = expit(self.decision_function(X).astype(np.float64))
        return np.stack([1 - p, p], axis=1)

    def predict(self, X) -> np.ndarray:
        return self.classes_[(self.decision_function(X) > 0).astype(int)]


def _fit_cells(X, y, s: LesionSettings, seed: int, basis: tuple | None, balance: str | None = None) -> CellClassifier:
    return CellClassifier(n_components=s.pca, C=s.C, balance=balance or s.balance, random_state=seed).fit(
        X, y, basis=basis)


@dataclass
class CellModels:
    """Per input size: lesion-vs-normal-tissue and malignant-vs-benign-lesion cell classifiers."""

    abnormal: dict[int, LinearCellClassifier]
    malignant: dict[int, LinearCellClassifier]

    bases: dict = field(default_factory=dict)  # per size: (mean, sd, PCA components, ...) of the training cells

    @classmethod
    def fit(cls, records: Sequence[Record], maps: Sequence[CellMaps], train_index: Sequence[int],
            s: LesionSettings, seed: int, bases: dict | None = None) -> CellModels:
        """``bases``: reuse these label-free projections (the outer fold's) instead of fitting new ones; the
        inner folds of one outer fold share them, which keeps the CV cheap."""
        abn, mal, fitted_bases = {}, {}, {}
        train_index = sorted(int(i) for i in train_index)
        normal_train = [i for i in train_index if not records[i].lesions]
        for size in s.sizes:
            cells, grids = training_cells(records, maps, train_index, size, negatives_per_image=s.negatives_per_image,
                                          seed=seed, min_breast=s.min_breast, margin_cells=s.margin_cells)
            fitted = _fit_cells(cells.X, cells.y, s, seed, (bases or {}).get(size))
            clf, basis = fitted.linear_, fitted.basis_
            fitted_bases[size] = basis
            X, y = cells.X, cells.y
            taken = {i: set() for i in normal_train}
            for _ in range(s.hard_negative_rounds if s.hard_negatives_per_image else 0):
                hard = []
                for i in normal_train:  # hard negatives: the normal tissue this round mistakes most for lesion
                    cand = np.asarray([c for c in np.flatnonzero(grids[i].ravel() == NEGATIVE) if c not in taken[i]])
                    if not len(cand):
                        continue
                    top = cand[np.argsort(maps[i].scales[size].scores(clf.w[:, None])[cand, 0])[::-1]
                               [: s.hard_negatives_per_image]]
                    taken[i].update(top.tolist())
                    hard.append(maps[i].scales[size].cells(top))
                if not hard:
                    break
                X = np.concatenate([X, *hard])
                y = np.concatenate([y, np.zeros(sum(len(h) for h in hard), y.dtype)])
                clf = _fit_cells(X, y, s, seed, basis).linear_
            abn[size] = clf
            pos = cells.y == 1
            ym = cells.malignant[pos].astype(int)
            if len(np.unique(ym)) == 2:
                mal[size] = _fit_cells(cells.X[pos], ym, s, seed, basis, balance="class_weight").linear_
            else:  # a fold without one severity: no malignancy evidence, constant score
                mal[size] = LinearCellClassifier(np.zeros(cells.X.shape[1], np.float32), 0.0)
        return cls(abn, mal, fitted_bases)

    def size_logits(self, maps: Sequence[CellMaps], sizes: Sequence[int] | None = None) -> dict:
        """Per input size: (abnormal logits, malignant logits), each a list of (h, w) grids, one per image.
        Computed once and combined for every candidate size set (``grids(..., per_size=...)``)."""
        out = {}
        for size in sorted(sizes or self.abnormal):
            hw = maps[0].scales[size].grid
            W = np.stack([self.abnormal[size].w, self.malignant[size].w], axis=1)  # (C, 2)
            S = [mp.scales[size].scores(W) for mp in maps]
            out[size] = ([sc[:, 0].reshape(hw) + self.abnormal[size].b for sc in S],
                         [sc[:, 1].reshape(hw) + self.malignant[size].b for sc in S])
        return out

    def grids(self, maps: Sequence[CellMaps], smooth: int = 0, sizes: Sequence[int] | None = None,
              per_size: dict | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(abnormal logits, malignant logits, breast mask) on the finest grid, (N, h, w) each.

        ``smooth`` > 1: the abnormal logits are averaged over ``smooth`` x ``smooth`` cells of breast (a lesion
        spans neighbouring cells; an isolated bright cell is more often noise)."""
        use = sorted(sizes or self.abnormal)
        per_size = per_size or self.size_logits(maps, use)
        finest = max(use)
        shape = maps[0].scales[finest].grid
        a = np.stack([combine_scales([per_size[z][0][n] for z in use], shape) for n in range(len(maps))])
        m = np.stack([combine_scales([per_size[z][1][n] for z in use], shape) for n in range(len(maps))])
        mask = np.stack([mp.scales[finest].mask for mp in maps])
        if smooth and smooth > 1:
            from scipy.ndimage import uniform_filter

            w = mask.astype(np.float64)
            num = uniform_filter(a * w, size=(1, smooth, smooth), mode="constant")
            den = uniform_filter(w, size=(1, smooth, smooth), mode="constant")
            a = np.where(den > 1e-6, num / np.maximum(den, 1e-6), a)
        return a, m, mask

    @classmethod
    def mean(cls, models: Sequence[CellModels]) -> CellModels:
        """Average of linear cell models (= averaging their logits)."""
        heads = {}
        for head in ("abnormal", "malignant"):
            heads[head] = {size: LinearCellClassifier(np.mean([getattr(m, head)[size].w for m in models], axis=0),
                                                      float(np.mean([getattr(m, head)[size].b for m in models])))
                           for size in getattr(models[0], head)}
        return cls(heads["abnormal"], heads["malignant"], models[0].bases)

    def to_arrays(self) -> dict[str, np.ndarray]:
        out = {}
        for head, d in (("abnormal", self.abnormal), ("malignant", self.malignant)):
            for size, clf in d.items():
                out[f"{head}_{size}_w"] = clf.w
                out[f"{head}_{size}_b"] = np.asarray([clf.b], np.float32)
        return out

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], sizes: Sequence[int]) -> CellModels:
        heads = {}
        for head in ("abnormal", "malignant"):
            heads[head] = {int(s): LinearCellClassifier(np.asarray(arrays[f"{head}_{s}_w"], np.float32),
                                                        float(arrays[f"{head}_{s}_b"][0])) for s in sizes}
        return cls(heads["abnormal"], heads["malignant"])
