"""Repeated stratified, patient-grouped k-fold; balancing inside each training fold only."""
from __future__ import annotations

from ..balance import Audit
from ._result import FITTED_ON_TRAINING, ProtocolData, ProtocolResult, _Collector, fit_split
from ._splits import grouped_kfold
from ._training import fit_pipeline

DESCRIPTION = (
    "Cross-validation: {folds}-fold stratified, patient-grouped splits repeated {repeats} times "
    f"(different shuffles). In each fold, {FITTED_ON_TRAINING} see the training patients only; every image is "
    "predicted once per repeat."
)


def run_cv(data: ProtocolData, cfg: dict) -> ProtocolResult:
    seed = int(cfg["seed"])
    folds = int(cfg["protocol"].get("folds", 5))
    repeats = int(cfg["protocol"].get("repeats", 3))
    audit = Audit()
    col = _Collector()
    fits, seen, shared = [], 0, 0
    for r in range(repeats):
        for f, (train, test) in enumerate(grouped_kfold(data.y, data.groups, folds, seed + r)):
            fit = fit_split(data, cfg, train, test, col, audit, seed=seed + 100 * r + f, context=f"repeat{r}/fold{f}",
                            repeat=r, fold=f)
            seen += fit.test_rows_seen
            shared += fit.test_patients_in_training
            fits.append(fit.info)
    final = fit_pipeline(data.X, data.y, data.groups, n_classes=len(data.classes), model_cfg=cfg["model"],
                         balance=cfg["balance"], calibration_cfg=cfg["calibration"], seed=seed, audit=audit,
                         context="final")
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
