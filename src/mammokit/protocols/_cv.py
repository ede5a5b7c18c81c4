"""Repeated stratified, patient-grouped k-fold; balancing inside each training fold only."""
from __future__ import annotations

from ..balance import Audit
from ._result import ProtocolData, ProtocolResult, _Collector, test_rows_seen
from ._splits import grouped_kfold
from ._training import fit_pipeline

DESCRIPTION = (
    "Cross-validation: {folds}-fold stratified, patient-grouped splits repeated {repeats} times "
    "(different shuffles). In each fold, balancing ({balance}), standardisation, early stopping and "
    "calibration see the training patients only; every image is predicted once per repeat."
)


def run_cv(data: ProtocolData, cfg: dict) -> ProtocolResult:
    seed = int(cfg["seed"])
    folds = int(cfg["protocol"].get("folds", 5))
    repeats = int(cfg["protocol"].get("repeats", 3))
    audit = Audit()
    col = _Collector()
    fits, seen, shared = [], 0, 0
    K = len(data.classes)
    for r in range(repeats):
        for f, (train, test) in enumerate(grouped_kfold(data.y, data.groups, folds, seed + r)):
            context = f"repeat{r}/fold{f}"
            pipe = fit_pipeline(data.X[train], data.y[train], data.groups[train], n_classes=K,
                                model_cfg=cfg["model"], balance=cfg["balance"], calibration_cfg=cfg["calibration"],
                                seed=seed + 100 * r + f, audit=audit, context=context)
            col.add(ids=[data.ids[i] for i in test], patients=data.groups[test],
                    paths=[data.paths[i] for i in test], repeat=r, fold=f, synthetic=[0] * len(test),
                    y_true=data.y[test], proba=pipe.predict_proba(data.X[test]),
                    proba_raw=pipe.proba_raw(data.X[test]))
            seen += test_rows_seen(audit, context, data.X[test])
            shared += len(set(data.groups[train]) & set(data.groups[test]))
            fits.append({"context": context, "n_test": len(test), **pipe.info})
    final = fit_pipeline(data.X, data.y, data.groups, n_classes=K, model_cfg=cfg["model"], balance=cfg["balance"],
                         calibration_cfg=cfg["calibration"], seed=seed, audit=audit, context="final")
    return ProtocolResult(
        protocol="cv",
        description=DESCRIPTION.format(folds=folds, repeats=repeats, balance=cfg["balance"]),
        **col.columns(),
        final=final,
        final_note="refitted on ALL rows with the same procedure (inner calibration and early-stopping parts); "
                   "the cross-validated metrics estimate its performance",
        audit=audit,
        leak_check={"test_rows_seen_by_training_components": seen, "test_patients_in_training": shared},
        fits=fits,
    )
