"""Repeated patient-grouped k-fold for the lesion model: every fold fits on its training images only."""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from threadpoolctl import threadpool_limits

from ...datasets import Record
from ...protocols import grouped_kfold
from ._heatmap import localisation_hit, peak_original
from ._maps import CellMaps
from ._model import LesionModel, LesionSettings, base_targets, pair_index


@dataclass
class LesionCVResult:
    ids: list[str] = field(default_factory=list)
    patients: list[str] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    repeats: list[int] = field(default_factory=list)
    folds: list[int] = field(default_factory=list)
    y_true: list[int] = field(default_factory=list)  # normal / benign / malignant = 0 / 1 / 2
    proba: list[np.ndarray] = field(default_factory=list)  # (3,) per row
    peaks: list[tuple[float, float]] = field(default_factory=list)  # heatmap peak, original pixels
    hits: list[bool | None] = field(default_factory=list)  # peak inside a lesion circle (None: not scored)
    fixed_scores: dict[str, list[float]] = field(default_factory=dict)  # untrained aggregations, for ablations
    leak_check: dict = field(default_factory=dict)
    fits: list = field(default_factory=list)  # per fold: sizes and the aggregator inputs used
    splits: list = field(default_factory=list)  # (repeat, fold, train positions, test positions)
    seconds: float = 0.0

    def arrays(self):
        return np.asarray(self.y_true), np.stack(self.proba), np.asarray(self.patients), np.asarray(self.repeats)


def cross_validate(records: Sequence[Record], maps: Sequence[CellMaps], settings: LesionSettings, *, folds: int = 5,
                   repeats: int = 3, seed: int = 0, keep: Callable | None = None,
                   threads: int = 1) -> LesionCVResult:
    """Out-of-fold image probabilities, heatmap peaks and localisation hits for every repeat.

    ``keep(repeat, fold, index, abnormal_logits, mask)`` is called for each test image (heatmap figures).
    """
    t0 = time.perf_counter()
    y3 = base_targets(records)
    groups = np.asarray([r.patient for r in records])
    pairs = pair_index(records)
    out = LesionCVResult()
    shared_patients = overlap = 0
    # One BLAS thread: on a shared 2-core machine a second thread mostly waits (measured 5-10x slower PCA).
    with threadpool_limits(limits=threads):
        _folds(records, maps, settings, folds, repeats, seed, keep, y3, groups, pairs, out)
    for r, f, train, test in out.splits:
        overlap += len(set(train) & set(test))
        shared_patients += len(set(groups[train]) & set(groups[test]))
    out.leak_check = {"test_images_in_training": overlap, "test_patients_in_training": shared_patients}
    out.seconds = time.perf_counter() - t0
    return out


def _folds(records, maps, settings, folds, repeats, seed, keep, y3, groups, pairs, out) -> None:
    from ._aggregate import aggregate

    for r in range(repeats):
        for f, (train, test) in enumerate(grouped_kfold(y3, groups, folds, seed + r)):
            out.splits.append((r, f, train.tolist(), test.tolist()))
            model = LesionModel(settings).fit(records, maps, train, seed=seed + 100 * r + f)
            out.fits.append({"repeat": r, "fold": f, "n_train": len(train), "n_test": len(test),
                             "features_used": list(model.features_used),
                             "aggregator": model.aggregator.kind,
                             "sizes_used": list(model.sizes_used), "smooth_used": model.smooth_used,
                             "selection": model.selection})
            pos = {int(i): n for n, i in enumerate(test)}
            test_pairs = [pos.get(pairs[i]) if pairs[i] is not None else None for i in test]
            P, A, _, K = model.predict([maps[i] for i in test], test_pairs)
            for n, i in enumerate(test):
                rec = records[i]
                mask = K[n] >= settings.min_breast
                point = peak_original(A[n], mask, maps[i].scales[model.view_size].geometry)
                out.ids.append(rec.id)
                out.patients.append(rec.patient)
                out.paths.append(str(rec.path))
                out.repeats.append(r)
                out.folds.append(f)
                out.y_true.append(int(y3[i]))
                out.proba.append(P[n])
                out.peaks.append(point)
                out.hits.append(localisation_hit(rec, point))
                for how in ("max", "topk_mean", "mean"):
                    out.fixed_scores.setdefault(how, []).append(aggregate(A[n], mask, how, settings.top_k))
                if keep is not None:
                    keep(r, f, int(i), A[n], mask, model.view_size)
