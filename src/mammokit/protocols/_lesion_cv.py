"""Repeated patient-grouped k-fold for the lesion model: every fold fits on its training images only."""
from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from threadpoolctl import threadpool_limits

from ..datasets import Record
from ..features import CellMaps
from ..models.lesion import LesionModel, LesionSettings, base_targets, pair_index
from ..models.lesion._heatmap import localisation_hit, peak_original
from ._splits import grouped_kfold


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
    # One BLAS thread: on a shared 2-core machine a second thread mostly waits (measured 5-10x slower PCA).
    with threadpool_limits(limits=threads):
        _folds(records, maps, settings, folds, repeats, seed, keep, y3, groups, pairs, out)
    out.leak_check = leak_audit(maps, groups, out.splits)
    out.seconds = time.perf_counter() - t0
    return out


def image_digests(maps: Sequence[CellMaps]) -> list[bytes]:
    """One value digest per image over its cell features at every input size: what the cell models fit on.

    The same 16-byte blake2b as balance's row_digests, over the cell-major float32 rows the cell models read
    (held as float32, or widened from the cached float16 exactly), so the digest of a value does not depend on
    how it is held; not a float64 copy: a 1280-channel map at three sizes is ~25 MB in float32 already."""
    out = []
    for m in maps:
        h = hashlib.blake2b(digest_size=16)
        for s in sorted(m.scales):
            f = m.scales[s].rows32()
            h.update(str((f.dtype.str, f.shape)).encode())
            h.update(f.data)
        out.append(h.digest())
    return out


def leak_audit(maps: Sequence[CellMaps], groups: np.ndarray, splits: Sequence) -> dict:
    """Per (repeat, fold, train, test) split: test images whose feature VALUES were among the fold's training
    images, and test patients also in training. Value digests, as balance's Audit records rows, not the
    splitter's own index sets: the same image twice under two ids or women is caught too."""
    digests = image_digests(maps)
    seen = shared = 0
    for _r, _f, train, test in splits:
        fitted = {digests[i] for i in train}
        seen += sum(digests[i] in fitted for i in test)
        shared += len(set(groups[list(train)]) & set(groups[list(test)]))
    return {"test_images_in_training": int(seen), "test_patients_in_training": int(shared)}


def _folds(records, maps, settings, folds, repeats, seed, keep, y3, groups, pairs, out) -> None:
    from ..models.lesion._aggregate import aggregate

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
