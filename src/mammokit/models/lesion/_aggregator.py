"""The image-level aggregator: the heatmap evidence of each image (and of the other breast) as a feature row,
and the small logistic model that turns those rows into normal / benign / malignant probabilities."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression

from ...datasets import Record
from ._aggregate import IMAGE_FEATURES, image_features
from ._settings import LesionSettings


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


def fit_aggregator(F, y, names, kind: str, C: float) -> Aggregator:
    if kind == "hierarchical":
        return Aggregator.fit_hierarchical(F, y, names, C)
    return Aggregator.fit(F, y, 3, C)
