"""Module 1 (the paper's balanced protocol): balance the WHOLE data set, then split 80/20.

This is leaky by construction and every output says so. Synthetic rows are made by
interpolating between real images, so after the split a test row can be (a) synthetic,
(b) interpolated from an image that is in training, or (c) a real image whose other breast
(same woman) is in training. We count each, using ``find_synthetic_parents`` to recover
which two real images every synthetic row came from.
"""
from __future__ import annotations

import numpy as np
from sklearn.model_selection import train_test_split

from ..balance import RESAMPLING_METHODS, Audit, AuditedSampler, find_synthetic_parents
from ._result import ProtocolData, ProtocolResult, _Collector, test_rows_seen
from ._training import fit_pipeline

DESCRIPTION = (
    "Module 1 (LEAKY, as in the paper): {balance} is applied to the whole data set first, then the "
    "balanced rows are split {train_pct:.0%}/{test_pct:.0%}, stratified by class but not grouped by patient. "
    "Test rows include synthetic images interpolated from training images, and real images whose other "
    "breast is in training, so its figures overstate performance on new women."
)


def _leak_account(data: ProtocolData, parents: np.ndarray, train: np.ndarray, test: np.ndarray) -> dict:
    n = len(data.y)
    train_real = set(train[train < n].tolist())
    test_real = test[test < n]
    test_syn = test[test >= n]
    train_syn = train[train >= n]

    def parents_of(rows):
        return [set(parents[r - n].tolist()) - {-1} for r in rows]

    test_syn_parents = parents_of(test_syn)
    from_train = sum(bool(p & train_real) for p in test_syn_parents)
    all_from_train = sum(bool(p) and p <= train_real for p in test_syn_parents)
    test_real_set = set(test_real.tolist())
    train_syn_from_test = sum(bool(p & test_real_set) for p in parents_of(train_syn))
    train_patients = set(data.groups[list(train_real)].tolist()) if train_real else set()
    other_breast = sum(data.groups[i] in train_patients for i in test_real)
    unmatched = int((parents < 0).all(axis=1).sum())
    return {
        "test_rows": len(test),
        "synthetic_test_rows": len(test_syn),
        "synthetic_test_fraction": float(len(test_syn) / max(len(test), 1)),
        "test_rows_interpolated_from_training_images": int(from_train),
        "synthetic_test_rows_entirely_from_training_images": int(all_from_train),
        "real_test_images": len(test_real),
        "real_test_images_with_other_breast_in_training": int(other_breast),
        "synthetic_training_rows_made_from_test_images": int(train_syn_from_test),
        "synthetic_rows_total": len(parents),
        "synthetic_rows_with_unidentified_parents": unmatched,
        "note": "synthetic rows were created from ALL images before the split; "
                "the test set is neither independent of training nor at the real class prior",
    }


def run_module1(data: ProtocolData, cfg: dict) -> ProtocolResult:
    seed = int(cfg["seed"])
    test_size = float(cfg["protocol"].get("test_size", 0.2))
    balance = cfg["balance"]
    audit = Audit()
    n = len(data.y)
    resampling = balance in RESAMPLING_METHODS
    sampler = AuditedSampler(balance if resampling else "none", random_state=seed, audit=audit,
                             context="module1")
    X_all, y_all = sampler.fit_resample(data.X, data.y)
    X_all = np.asarray(X_all, dtype=np.float32)
    n_syn = len(y_all) - n
    parents = find_synthetic_parents(data.X, data.y, X_all[n:], y_all[n:])
    syn_ids = [f"synthetic-{k:04d}" for k in range(n_syn)]
    ids = list(data.ids) + syn_ids
    groups = np.concatenate([data.groups, np.array(syn_ids, dtype=str)])
    paths = list(data.paths) + [""] * n_syn
    parent_col = [""] * n + ["|".join(data.ids[p] for p in dict.fromkeys(pp.tolist()) if p >= 0) for pp in parents]

    rows = np.arange(len(y_all))
    train, test = train_test_split(rows, test_size=test_size, stratify=y_all, random_state=seed)
    train, test = np.sort(train), np.sort(test)
    pipe = fit_pipeline(X_all[train], y_all[train], groups[train], n_classes=len(data.classes),
                        model_cfg=cfg["model"], balance="none" if resampling else balance,
                        calibration_cfg=cfg["calibration"], seed=seed, audit=audit, context="module1")
    col = _Collector()
    col.add(ids=[ids[i] for i in test], patients=groups[test], paths=[paths[i] for i in test], repeat=0, fold=0,
            synthetic=(test >= n).astype(int), y_true=y_all[test], proba=pipe.predict_proba(X_all[test]),
            proba_raw=pipe.proba_raw(X_all[test]))
    leak = _leak_account(data, parents, train, test)
    return ProtocolResult(
        protocol="module1",
        description=DESCRIPTION.format(balance=balance, train_pct=1 - test_size, test_pct=test_size),
        **col.columns(),
        final=pipe,
        final_note="the evaluated (leaky) model: fitted on the training part of the balanced whole data set",
        audit=audit,
        leaky=True,
        leak=leak,
        leak_check={"test_rows_seen_by_training_components": test_rows_seen(audit, "module1", X_all[test])},
        fits=[{"context": "module1", "n_test": len(test), **pipe.info}],
        extra={"parents": [parent_col[i] for i in test]},
    )
