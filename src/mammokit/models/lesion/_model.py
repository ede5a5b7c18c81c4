"""The lesion-aware image model: linear cell classifiers on feature-map cells (_cells.py) -> heatmaps -> a
small aggregator (_aggregator.py) that turns heatmap evidence into normal / benign / malignant probabilities,
its inputs chosen on the training images (_selection.py)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ...constants import BASE_LABELS
from ...datasets import Record
from ...errors import ConfigError, DatasetError
from ...features import CellMaps
from ._aggregator import Aggregator, feature_matrix, fit_aggregator, pair_index
from ._cells import CellModels
from ._selection import candidates, out_of_fold_grids, select
from ._settings import LesionSettings


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
        combos = candidates(s)
        oof, inner_models = out_of_fold_grids(records, maps, train, y, groups, s, seed, self.cells.bases, combos)
        if s.test_cells == "ensemble":
            self.cells = CellModels.mean(inner_models)
        pos = {int(i): n for n, i in enumerate(train)}
        pairs = [pos.get(p) if p is not None else None for p in (pair_index(records)[i] for i in train)]
        best, self.selection = select(oof, combos, pairs, y, groups, s, seed)
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
