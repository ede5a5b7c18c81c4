"""The lesion-aware image model: linear cell classifiers on feature-map cells -> heatmaps -> a small
aggregator that turns heatmap evidence into normal / benign / malignant probabilities.

Every fitted part is linear in the cell features (standardise -> PCA -> logistic collapses to one weight
vector), so applying it to every cell of every image is one tensor contraction per input size.
"""
from __future__ import annotations

import itertools
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields

import numpy as np
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold

from ...constants import BASE_LABELS
from ...datasets import Record
from ...errors import ConfigError, DatasetError
from ...features import CellMaps, check_intensity, check_sizes
from ._aggregate import AGGREGATIONS, IMAGE_FEATURES, image_features
from ._heatmap import combine_scales
from ._patches import NEGATIVE, training_cells

BALANCES = ("none", "class_weight", "smote", "random_oversample")


@dataclass
class LesionSettings:
    backbone: str = "efficientnet_lite0"
    weights: str | None = None
    sizes: tuple[int, ...] = (512, 768)
    pca: int = 64  # cell features are projected to this many components (0: none) before the logistic fit
    C: float = 0.05  # inverse L2 strength of the cell classifiers
    balance: str = "class_weight"  # how the rare lesion cells are balanced: none | class_weight | smote | random_oversample
    negatives_per_image: int = 24
    hard_negatives_per_image: int = 4  # top-scoring normal-tissue cells of each normal training image, per round
    hard_negative_rounds: int = 1  # mining rounds: each refits on the negatives the previous round scored highest
    intensity: str = "none"  # per-image intensity normalisation of the maps: none | breast_percentiles
    min_breast: float = 0.5
    margin_cells: float = 1.0
    top_k: int = 3
    smooth: int = 0  # average the lesion logits over smooth x smooth breast cells before peaks/aggregation (0: off)
    aggregation: str = "learned"  # learned (image_features) | auto (feature set picked by inner CV) | max | topk_mean
    image_features: tuple[str, ...] = IMAGE_FEATURES
    contralateral: bool = True
    inner_folds: int = 3  # the aggregator learns from out-of-fold heatmaps of the training images
    test_cells: str = "refit"  # test heatmaps from cell models refitted on all training images, or "ensemble":
    # the mean of the inner-fold cell models, the very models whose heatmaps the aggregator learned from
    aggregator_C: float = 1.0
    aggregator: str = "multinomial"  # multinomial (one 3-class model) | hierarchical (abnormal?, then malignant?)
    seed: int = 0

    def __post_init__(self):
        self.sizes = check_sizes(self.sizes)
        self.image_features = tuple(self.image_features)
        if self.balance not in BALANCES:
            raise ConfigError(f"lesion.balance: {self.balance!r} is not one of {', '.join(BALANCES)}")
        if self.aggregation not in AGGREGATIONS:
            raise ConfigError(f"lesion.aggregation: {self.aggregation!r} is not one of {', '.join(AGGREGATIONS)}")
        unknown = [f for f in self.image_features if f not in IMAGE_FEATURES]
        if unknown or not self.image_features:
            raise ConfigError(f"lesion.image_features: unknown {unknown}; choose from {', '.join(IMAGE_FEATURES)}")
        if self.aggregator not in ("multinomial", "hierarchical"):
            raise ConfigError(f"lesion.aggregator: {self.aggregator!r} is not multinomial or hierarchical")
        if self.test_cells not in ("refit", "ensemble"):
            raise ConfigError(f"lesion.test_cells: {self.test_cells!r} is not refit or ensemble")
        if self.inner_folds < 2:
            raise ConfigError("lesion.inner_folds must be at least 2")
        if self.hard_negative_rounds < 0:
            raise ConfigError("lesion.hard_negative_rounds must be 0 or more")
        check_intensity(self.intensity)

    @classmethod
    def from_dict(cls, d: dict | None) -> LesionSettings:
        d = dict(d or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigError(f"lesion: unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return cls(**d)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["sizes"], d["image_features"] = list(self.sizes), list(self.image_features)
        return d


@dataclass
class LinearCellClassifier:
    """score(cell) = w . x + b on raw cell features (standardise, PCA and logistic folded together)."""

    w: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    b: float = 0.0

    @classmethod
    def fit(cls, X: np.ndarray, y: np.ndarray, *, n_components: int, C: float, balance: str, seed: int,
            basis: tuple | None = None) -> tuple[LinearCellClassifier, tuple]:
        X = np.asarray(X, np.float32)
        if basis is None:
            mu, sd = X.mean(0), X.std(0) + 1e-6
            Z = (X - mu) / sd
            if n_components and n_components < min(Z.shape):
                pca = PCA(n_components=n_components, svd_solver="randomized", random_state=seed).fit(Z)
                P = pca.components_.T.astype(np.float32)
            else:
                P = np.eye(X.shape[1], dtype=np.float32)
            T = Z @ P
            basis = (mu, sd, P, T.mean(0), T.std(0) + 1e-6)
        mu, sd, P, tmu, tsd = basis
        T = ((X - mu) / sd @ P - tmu) / tsd
        yy = np.asarray(y).astype(int)
        if balance in ("smote", "random_oversample"):
            from ...balance import make_sampler

            T, yy = make_sampler(balance, yy, random_state=seed).fit_resample(T, yy)
        lr = LogisticRegression(C=C, class_weight="balanced" if balance == "class_weight" else None, max_iter=2000)
        lr.fit(T, yy)
        coef = lr.coef_[0] / tsd
        w = (P @ coef) / sd
        b = float(lr.intercept_[0] - coef @ tmu - w @ mu)
        return cls(w.astype(np.float32), b), basis

    def score(self, features: np.ndarray) -> np.ndarray:
        """(N, C, h, w) or (C, h, w) or (n, C) rows -> logits with the channel axis contracted."""
        f = np.asarray(features)
        if f.ndim == 2:
            return f.astype(np.float32) @ self.w + self.b
        axis = f.ndim - 3
        return np.tensordot(f.astype(np.float32), self.w, axes=([axis], [0])) + self.b


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
            clf, basis = LinearCellClassifier.fit(cells.X, cells.y, n_components=s.pca, C=s.C, balance=s.balance,
                                                  seed=seed, basis=(bases or {}).get(size))
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
                clf, _ = LinearCellClassifier.fit(X, y, n_components=s.pca, C=s.C, balance=s.balance, seed=seed,
                                                  basis=basis)
            abn[size] = clf
            pos = cells.y == 1
            ym = cells.malignant[pos].astype(int)
            if len(np.unique(ym)) == 2:
                mal[size], _ = LinearCellClassifier.fit(cells.X[pos], ym, n_components=s.pca, C=s.C,
                                                        balance="class_weight", seed=seed, basis=basis)
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


def pair_index(records: Sequence[Record]) -> list[int | None]:
    """For each record, the position of the other breast of the same woman (None if absent or ambiguous)."""
    by_patient: dict[str, list[int]] = {}
    for i, r in enumerate(records):
        by_patient.setdefault(r.patient, []).append(i)
    out: list[int | None] = []
    for i, r in enumerate(records):
        others = [j for j in by_patient[r.patient] if j != i]
        out.append(others[0] if len(others) == 1 else None)
    return out


def feature_matrix(abn: np.ndarray, mal: np.ndarray, mask: np.ndarray, pairs: Sequence[int | None],
                   s: LesionSettings, names: Sequence[str] | None = None) -> np.ndarray:
    """Aggregator inputs for N images; ``pairs`` index into the same arrays (None: no pair there)."""
    rows = []
    for n in range(len(abn)):
        m = mask[n] >= s.min_breast
        j = pairs[n]
        pair = (abn[j], mask[j] >= s.min_breast) if (s.contralateral and j is not None) else None
        rows.append(image_features(abn[n], mal[n], m, s.top_k, pair))
    cols = [IMAGE_FEATURES.index(f) for f in (names or s.image_features)]
    return np.asarray(rows)[:, cols]


@dataclass
class Aggregator:
    """Standardise + multinomial logistic regression on image features (real class prior, no resampling,
    so the probabilities keep the data set's frequencies)."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray  # (K, d) multinomial; (2, d) hierarchical: [abnormal vs normal, malignant vs benign]
    intercept: np.ndarray  # (K,) or (2,)
    kind: str = "multinomial"

    @classmethod
    def fit_hierarchical(cls, F: np.ndarray, y: np.ndarray, names: Sequence[str], C: float) -> Aggregator:
        """Two binary logistic models, each on its own evidence: P(abnormal) from the lesion-cell features
        (abn_*), P(malignant | abnormal) from the malignancy-cell features (mal_*), fitted on abnormal images.
        P = [1 - pa, pa (1 - pm), pa pm]: each decision ranks images by the head made for it."""
        mean, scale = F.mean(0), F.std(0) + 1e-6
        Z = (F - mean) / scale
        coef, inter = np.zeros((2, F.shape[1])), np.zeros(2)
        for row, (prefix, rows, target) in enumerate((("abn_", np.ones(len(y), bool), y > 0),
                                                       ("mal_", y > 0, y == 2))):
            cols = [j for j, n in enumerate(names) if n.startswith(prefix)]
            t = target[rows].astype(int)
            rate = float(np.clip(t.mean() if len(t) else 0.5, 1e-3, 1 - 1e-3))
            if cols and len(np.unique(t)) == 2:
                lr = LogisticRegression(C=C, max_iter=5000).fit(Z[rows][:, cols], t)
                coef[row, cols], inter[row] = lr.coef_[0], lr.intercept_[0]
            else:  # no evidence of this kind, or one class only: the training rate
                inter[row] = np.log(rate / (1 - rate))
        return cls(mean, scale, coef, inter, "hierarchical")

    @classmethod
    def fit(cls, F: np.ndarray, y: np.ndarray, n_classes: int, C: float) -> Aggregator:
        mean, scale = F.mean(0), F.std(0) + 1e-6
        Z = (F - mean) / scale
        lr = LogisticRegression(C=C, max_iter=5000).fit(Z, y)
        coef = np.zeros((n_classes, F.shape[1]))
        inter = np.full(n_classes, -30.0)  # a class absent from training gets ~zero probability
        if n_classes == 2 or len(lr.classes_) == 2:
            # sklearn's binary model: one row for classes_[1]; spread as softmax logits
            full = np.zeros((len(lr.classes_), F.shape[1]))
            full[1] = lr.coef_[0]
            fint = np.asarray([0.0, lr.intercept_[0]])
        else:
            full, fint = lr.coef_, lr.intercept_
        for k, c in enumerate(lr.classes_):
            coef[int(c)], inter[int(c)] = full[k], fint[k]
        return cls(mean, scale, coef, inter)

    def predict_proba(self, F: np.ndarray) -> np.ndarray:
        z = ((F - self.mean) / self.scale) @ self.coef.T + self.intercept
        if self.kind == "hierarchical":
            pa, pm = 1.0 / (1.0 + np.exp(-np.clip(z[:, 0], -50, 50))), 1.0 / (1.0 + np.exp(-np.clip(z[:, 1], -50, 50)))
            return np.stack([1 - pa, pa * (1 - pm), pa * pm], axis=1)
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)


# Candidate aggregator inputs for aggregation "auto", simplest first (ties keep the simpler set).
FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "max": ("abn_max", "mal_at_top"),
    "max_topk": ("abn_max", "abn_topk", "mal_at_top", "mal_max"),
    "all": IMAGE_FEATURES,
}
_FIXED = {"max": ("abn_max", "mal_at_top"), "topk_mean": ("abn_topk", "mal_at_top"), "mean": ("abn_mean", "mal_at_top")}


def fit_aggregator(F, y, names, kind: str, C: float) -> Aggregator:
    if kind == "hierarchical":
        return Aggregator.fit_hierarchical(F, y, names, C)
    return Aggregator.fit(F, y, 3, C)


def choose_features(A, M, K, pairs, y, groups, s: LesionSettings, seed: int) -> tuple[tuple[str, ...], str, float]:
    """The aggregator's inputs and kind. "auto" scores each candidate (feature set x kind) by a patient-grouped CV
    of the aggregator on the training images' out-of-fold heatmap features (3-class macro ROC-AUC) and keeps the
    best: test images play no part in the choice."""
    if s.aggregation in _FIXED:
        return _FIXED[s.aggregation], s.aggregator, float("nan")
    if s.aggregation != "auto":
        return tuple(s.image_features), s.aggregator, float("nan")
    from sklearn.metrics import roc_auc_score

    full = feature_matrix(A, M, K, pairs, s, IMAGE_FEATURES)
    cv = StratifiedGroupKFold(n_splits=5, shuffle=True, random_state=seed + 11)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        splits = list(cv.split(np.zeros(len(y)), y, groups))
    best, best_auc = (tuple(s.image_features), s.aggregator), -1.0
    for kind in ("hierarchical", "multinomial"):
        for names in FEATURE_SETS.values():
            cols = [IMAGE_FEATURES.index(f) for f in names]
            P = np.zeros((len(y), 3))
            for tr, va in splits:
                agg = fit_aggregator(full[tr][:, cols], y[tr], names, kind, s.aggregator_C)
                P[va] = agg.predict_proba(full[va][:, cols])
            try:
                auc = roc_auc_score(y, P, multi_class="ovr", average="macro", labels=[0, 1, 2])
            except ValueError:
                auc = 0.0
            if auc > best_auc + 1e-9:
                best, best_auc = (tuple(names), kind), auc
    return (*best, best_auc)


def base_targets(records: Sequence[Record]) -> np.ndarray:
    """normal / benign / malignant as 0 / 1 / 2."""
    try:
        return np.asarray([BASE_LABELS.index(r.label) for r in records], np.int64)
    except ValueError:
        bad = next(r for r in records if r.label not in BASE_LABELS)
        raise DatasetError(f"{bad.path}: label {bad.label!r}; the lesion model needs normal/benign/malignant") from None


@dataclass
class LesionModel:
    """Fitted cell models + aggregators (with and without the other breast)."""

    settings: LesionSettings
    cells: CellModels | None = None
    aggregator: Aggregator | None = None
    aggregator_single: Aggregator | None = None  # used when an image comes without its pair
    classes: tuple[str, ...] = BASE_LABELS
    features_used: tuple[str, ...] = ()  # the aggregator's inputs (chosen by inner CV with aggregation "auto")
    sizes_used: tuple[int, ...] = ()  # input sizes whose heatmaps are combined (chosen by inner CV with "auto")
    smooth_used: int | None = None  # heatmap smoothing (chosen by inner CV with "auto" among 0 and 3)
    selection: dict = field(default_factory=dict)  # inner-CV score of every candidate ("auto")

    @property
    def view_size(self) -> int:
        """The input size the heatmap and its geometry refer to."""
        return max(self.sizes_used or self.settings.sizes)
    def fit(self, records: Sequence[Record], maps: Sequence[CellMaps], train_index: Sequence[int],
            seed: int | None = None) -> LesionModel:
        """Fit on ``train_index`` only. The aggregator learns from heatmaps of training images made by cell
        models that did not see them (inner patient-grouped folds), so it meets test-like evidence."""
        s = self.settings
        seed = s.seed if seed is None else seed
        train = np.asarray(sorted(int(i) for i in train_index))
        y = base_targets([records[i] for i in train])
        groups = np.asarray([records[i].patient for i in train])
        self.cells = CellModels.fit(records, maps, train, s, seed)
        # Candidate size combinations: all of them with "auto" (chosen on the training images), else the configured.
        # ... and heatmap smoothing: none or 3 x 3 cells ("auto"), else the configured one.
        auto = s.aggregation == "auto"
        sizes = [tuple(c) for r in range(1, len(s.sizes) + 1) for c in itertools.combinations(s.sizes, r)]
        combos = [(c, sm) for c in sizes for sm in sorted({0, 3, s.smooth})] if auto else [(tuple(s.sizes), s.smooth)]
        oof = {}
        for c, sm in combos:
            h, w = maps[0].scales[max(c)].features.shape[-2:]
            oof[c, sm] = (np.zeros((len(train), h, w)), np.zeros((len(train), h, w)), np.zeros((len(train), h, w)))
        inner = StratifiedGroupKFold(n_splits=s.inner_folds, shuffle=True, random_state=seed + 7)
        with warnings.catch_warnings():  # "least populated class has fewer members": tiny classes, not an error
            warnings.simplefilter("ignore", UserWarning)
            inner_splits = list(inner.split(np.zeros(len(train)), y, groups))
        inner_models = []
        for tr, va in inner_splits:
            cm = CellModels.fit(records, maps, train[tr], s, seed, bases=self.cells.bases)
            va_maps = [maps[i] for i in train[va]]
            per_size = cm.size_logits(va_maps)
            for c, sm in combos:
                a, m, k = cm.grids(va_maps, sm, c, per_size)
                oof[c, sm][0][va], oof[c, sm][1][va], oof[c, sm][2][va] = a, m, k
            inner_models.append(cm)
        if s.test_cells == "ensemble":
            self.cells = CellModels.mean(inner_models)
        pos = {int(i): n for n, i in enumerate(train)}
        pairs = [pos.get(p) if p is not None else None for p in (pair_index(records)[i] for i in train)]
        best = None
        self.selection = {}
        for c, sm in combos:
            names, kind, auc = choose_features(*oof[c, sm], pairs, y, groups, s, seed)
            key = "+".join(map(str, c)) + (f"/smooth{sm}" if auto else "")
            self.selection[key] = {"features": list(names), "aggregator": kind,
                                   "inner_auc": float(auc) if np.isfinite(auc) else None}  # strict JSON: no NaN
            if best is None or auc > best[4] + 1e-9:
                best = (c, sm, names, kind, auc)
        self.sizes_used, self.smooth_used, self.features_used, kind = best[0], best[1], tuple(best[2]), best[3]
        A, M, K = oof[self.sizes_used, self.smooth_used]
        F = feature_matrix(A, M, K, pairs, s, self.features_used)
        self.aggregator = fit_aggregator(F, y, self.features_used, kind, s.aggregator_C)
        F1 = feature_matrix(A, M, K, [None] * len(train), s, self.features_used)
        self.aggregator_single = fit_aggregator(F1, y, self.features_used, kind, s.aggregator_C)
        return self

    def predict(self, maps: Sequence[CellMaps], pairs: Sequence[int | None] | None = None):
        """(probabilities (N, 3), abnormal logit grids, malignant logit grids, masks) for N images; ``pairs``
        index into ``maps`` (the other breast of the same woman) or None."""
        if self.cells is None or self.aggregator is None:
            raise ConfigError("lesion model: fit it (or load a bundle) before predicting")
        smooth = self.settings.smooth if self.smooth_used is None else self.smooth_used
        a, m, k = self.cells.grids(maps, smooth, self.sizes_used or None)
        pairs = list(pairs) if pairs is not None else [None] * len(maps)
        names = self.features_used or self.settings.image_features
        F = feature_matrix(a, m, k, pairs, self.settings, names)
        P = self.aggregator.predict_proba(F)
        if self.settings.contralateral and any(p is None for p in pairs):
            single = [n for n, p in enumerate(pairs) if p is None]
            P[single] = self.aggregator_single.predict_proba(
                feature_matrix(a[single], m[single], k[single], [None] * len(single), self.settings, names))
        return P, a, m, k
