"""The image-level aggregator: the heatmap evidence of each image (and of the other breast) as a feature row,
and the small logistic model that turns those rows into normal / benign / malignant probabilities.

``AggregatorClassifier`` is that model as a scikit-learn classifier (checked input, ``get_params``, clone;
it passes ``models.estimator_checks``); what it fits is an ``Aggregator``, arrays only, which the lesion
bundle stores and loads without pickle.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_X_y

from ...constants import BASE_LABELS
from ...datasets import Record
from .._checks import check_predict_input
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


KINDS = ("multinomial", "hierarchical")
N_CLASSES = len(BASE_LABELS)  # normal / benign / malignant = 0 / 1 / 2


@dataclass
class Aggregator:
    """A fitted aggregator: standardise, then a multinomial logistic model on image features, or two binary
    ones (hierarchical: abnormal?, then malignant?). Made by ``AggregatorClassifier.fit`` or loaded from a
    bundle; ``predict_proba`` -> (n, 3)."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray  # (K, d) multinomial; (2, d) hierarchical: [abnormal vs normal, malignant vs benign]
    intercept: np.ndarray  # (K,) or (2,)
    kind: str = "multinomial"

    def predict_proba(self, F: np.ndarray) -> np.ndarray:
        z = ((F - self.mean) / self.scale) @ self.coef.T + self.intercept
        if self.kind == "hierarchical":
            pa, pm = 1.0 / (1.0 + np.exp(-np.clip(z[:, 0], -50, 50))), 1.0 / (1.0 + np.exp(-np.clip(z[:, 1], -50, 50)))
            return np.stack([1 - pa, pa * (1 - pm), pa * pm], axis=1)
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)


class AggregatorClassifier(ClassifierMixin, BaseEstimator):
    """The aggregator as a classifier on image-feature rows; y is 0 normal, 1 benign, 2 malignant.

    Real class prior, no resampling, so the probabilities keep the data set's frequencies. ``classes_`` is
    always (0, 1, 2): a class absent from training gets ~zero probability (multinomial) or the training rate
    (hierarchical), as a fold without one severity needs.

    - ``kind="multinomial"``: standardise + one multinomial logistic regression;
    - ``kind="hierarchical"``: two binary logistic models, each on its own evidence: P(abnormal) from the
      lesion-cell features (names starting ``abn_``), P(malignant | abnormal) from the malignancy-cell features
      (``mal_``), fitted on abnormal images; P = [1 - pa, pa (1 - pm), pa pm], so each decision ranks images by
      the head made for it. ``feature_names`` name the columns (``IMAGE_FEATURES``).
    """

    def __init__(self, C: float = 1.0, kind: str = "multinomial", feature_names: tuple[str, ...] | None = None):
        self.C = C
        self.kind = kind
        self.feature_names = feature_names

    def fit(self, X, y):
        name = type(self).__name__
        # sklearn's checks: 2-D, finite, as many labels as rows (ValueError naming the problem)
        X, y = check_X_y(X, y, ensure_min_samples=2)
        labels = np.unique(y)
        if not np.isin(labels, np.arange(N_CLASSES)).all():
            raise ValueError(f"{name}: labels must be 0 (normal), 1 (benign) or 2 (malignant), got {labels.tolist()}")
        if len(labels) < 2:
            raise ValueError(f"{name}: fit needs at least 2 classes, got {labels.tolist()}")
        if self.kind not in KINDS:
            raise ValueError(f"{name}: kind {self.kind!r} is not one of {', '.join(KINDS)}")
        if self.kind == "hierarchical":
            names = tuple(self.feature_names or ())
            if len(names) != X.shape[1]:
                raise ValueError(f"{name}: hierarchical needs one feature name per column ({X.shape[1]}), "
                                 f"got {len(names)}")
            self.aggregator_ = self._fit_hierarchical(X, y, names)
        else:
            self.aggregator_ = self._fit_multinomial(X, y)
        self.classes_ = np.arange(N_CLASSES)
        self.n_features_in_ = X.shape[1]
        return self

    def _fit_hierarchical(self, F: np.ndarray, y: np.ndarray, names: Sequence[str]) -> Aggregator:
        mean, scale = F.mean(0), F.std(0) + 1e-6
        Z = (F - mean) / scale
        coef, inter = np.zeros((2, F.shape[1])), np.zeros(2)
        for row, (prefix, rows, target) in enumerate((("abn_", np.ones(len(y), bool), y > 0),
                                                       ("mal_", y > 0, y == 2))):
            cols = [j for j, n in enumerate(names) if n.startswith(prefix)]
            t = target[rows].astype(int)
            rate = float(np.clip(t.mean() if len(t) else 0.5, 1e-3, 1 - 1e-3))
            if cols and len(np.unique(t)) == 2:
                lr = LogisticRegression(C=self.C, max_iter=5000).fit(Z[rows][:, cols], t)
                coef[row, cols], inter[row] = lr.coef_[0], lr.intercept_[0]
            else:  # no evidence of this kind, or one class only: the training rate
                inter[row] = np.log(rate / (1 - rate))
        return Aggregator(mean, scale, coef, inter, "hierarchical")

    def _fit_multinomial(self, F: np.ndarray, y: np.ndarray) -> Aggregator:
        mean, scale = F.mean(0), F.std(0) + 1e-6
        Z = (F - mean) / scale
        lr = LogisticRegression(C=self.C, max_iter=5000).fit(Z, y)
        coef = np.zeros((N_CLASSES, F.shape[1]))
        inter = np.full(N_CLASSES, -30.0)  # a class absent from training gets ~zero probability
        if len(lr.classes_) == 2:
            # sklearn's binary model: one row for classes_[1]; spread as softmax logits
            full = np.zeros((len(lr.classes_), F.shape[1]))
            full[1] = lr.coef_[0]
            fint = np.asarray([0.0, lr.intercept_[0]])
        else:
            full, fint = lr.coef_, lr.intercept_
        for k, c in enumerate(lr.classes_):
            coef[int(c)], inter[int(c)] = full[k], fint[k]
        return Aggregator(mean, scale, coef, inter)

    def predict_proba(self, X) -> np.ndarray:
        return self.aggregator_.predict_proba(check_predict_input(self, X, "aggregator_"))

    def predict(self, X) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


def fit_aggregator(F, y, names, kind: str, C: float) -> Aggregator:
    """The fitted aggregator of ``kind`` on feature rows ``F`` (columns ``names``) and targets ``y``."""
    return AggregatorClassifier(C=C, kind=kind, feature_names=tuple(names)).fit(F, y).aggregator_
