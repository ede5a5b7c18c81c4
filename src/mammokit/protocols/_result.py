"""What a protocol hands back: out-of-sample predictions, the leak account, the final model."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..balance import Audit, row_digests
from ._training import FittedPipeline, fit_pipeline

# What an honest protocol fits on training patients only; its description (metrics.json) says so.
FITTED_ON_TRAINING = "balancing ({balance}), standardisation, early stopping and calibration"


@dataclass
class ProtocolData:
    """Feature rows with their labels (class indices into ``classes``) and patients."""

    X: np.ndarray
    y: np.ndarray
    groups: np.ndarray
    ids: list[str]
    paths: list[str]
    classes: tuple[str, ...]

    def __post_init__(self):
        self.X = np.asarray(self.X, dtype=np.float32)
        self.y = np.asarray(self.y, dtype=int)
        self.groups = np.asarray(self.groups).astype(str)
        n = len(self.y)
        if not (len(self.X) == len(self.groups) == len(self.ids) == len(self.paths) == n):
            raise ValueError("X, y, groups, ids and paths must have one entry per row")


@dataclass
class ProtocolResult:
    protocol: str
    description: str
    ids: list[str]
    patients: np.ndarray
    paths: list[str]
    repeats: np.ndarray
    folds: np.ndarray
    synthetic: np.ndarray
    y_true: np.ndarray
    proba: np.ndarray
    proba_raw: np.ndarray
    final: FittedPipeline
    final_note: str
    audit: Audit
    leaky: bool = False
    leak: dict | None = None
    leak_check: dict = field(default_factory=dict)
    fits: list[dict] = field(default_factory=list)
    extra: dict[str, list[str]] = field(default_factory=dict)


class _Collector:
    """Accumulates per-fit predictions into the columns of a ProtocolResult."""

    def __init__(self):
        self.cols: dict[str, list] = {k: [] for k in
                                      ("ids", "patients", "paths", "repeats", "folds", "synthetic", "y_true")}
        self.proba: list[np.ndarray] = []
        self.proba_raw: list[np.ndarray] = []

    def add(self, *, ids, patients, paths, repeat, fold, synthetic, y_true, proba, proba_raw):
        n = len(ids)
        self.cols["ids"] += list(ids)
        self.cols["patients"] += list(patients)
        self.cols["paths"] += list(paths)
        self.cols["repeats"] += [repeat] * n
        self.cols["folds"] += [fold] * n
        self.cols["synthetic"] += list(synthetic)
        self.cols["y_true"] += list(y_true)
        self.proba.append(proba)
        self.proba_raw.append(proba_raw)

    def columns(self) -> dict:
        c = self.cols
        return {"ids": c["ids"], "patients": np.array(c["patients"], dtype=str), "paths": c["paths"],
                "repeats": np.array(c["repeats"], dtype=int), "folds": np.array(c["folds"], dtype=int),
                "synthetic": np.array(c["synthetic"], dtype=int), "y_true": np.array(c["y_true"], dtype=int),
                "proba": np.vstack(self.proba), "proba_raw": np.vstack(self.proba_raw)}


def test_rows_seen(audit: Audit, context: str, X_test: np.ndarray) -> int:
    """How many test rows reached any fitted component of ``context`` (must be 0 when honest)."""
    seen = audit.digests(context)
    return int(sum(d in seen for d in row_digests(X_test)))


@dataclass
class SplitFit:
    """One honest split: the pipeline fitted on its training rows, and what its leak checks found."""

    pipe: FittedPipeline
    test_rows_seen: int  # test rows whose values reached a fitted component (0 when honest)
    test_patients_in_training: int  # women with images on both sides (0 when honest)
    info: dict  # the fit record: context, n_test and the pipeline's own info


def fit_split(data: ProtocolData, cfg: dict, train: np.ndarray, test: np.ndarray, col: _Collector, audit: Audit, *,
              seed: int, context: str, repeat: int = 0, fold: int = 0) -> SplitFit:
    """Fit the pipeline of ``cfg`` on the ``train`` rows only (sampler, scaler, model, calibrator recorded in
    ``audit`` under ``context``), add the ``test`` rows' predictions to ``col``, and check both for leaks."""
    pipe = fit_pipeline(data.X[train], data.y[train], data.groups[train], n_classes=len(data.classes),
                        model_cfg=cfg["model"], balance=cfg["balance"], calibration_cfg=cfg["calibration"],
                        seed=seed, audit=audit, context=context)
    col.add(ids=[data.ids[i] for i in test], patients=data.groups[test], paths=[data.paths[i] for i in test],
            repeat=repeat, fold=fold, synthetic=[0] * len(test), y_true=data.y[test],
            proba=pipe.predict_proba(data.X[test]), proba_raw=pipe.proba_raw(data.X[test]))
    return SplitFit(pipe, test_rows_seen(audit, context, data.X[test]),
                    len(set(data.groups[train]) & set(data.groups[test])),
                    {"context": context, "n_test": len(test), **pipe.info})
