"""Module 2 (the paper's realistic protocol): hold out 20% of the ORIGINAL data by patient."""
from __future__ import annotations

from ..balance import Audit
from ._result import ProtocolData, ProtocolResult, _Collector, test_rows_seen
from ._splits import grouped_holdout
from ._training import fit_pipeline

DESCRIPTION = (
    "Module 2: {pct:.0%} of the original, imbalanced images are held out, stratified by class and grouped "
    "by patient (both breasts of a woman on the same side). Balancing ({balance}), standardisation, "
    "early stopping and calibration use the remaining training patients only."
)


def run_module2(data: ProtocolData, cfg: dict) -> ProtocolResult:
    seed = int(cfg["seed"])
    test_size = float(cfg["protocol"].get("test_size", 0.2))
    train, test = grouped_holdout(data.y, data.groups, test_size, seed)
    audit = Audit()
    pipe = fit_pipeline(data.X[train], data.y[train], data.groups[train], n_classes=len(data.classes),
                        model_cfg=cfg["model"], balance=cfg["balance"], calibration_cfg=cfg["calibration"],
                        seed=seed, audit=audit, context="module2")
    col = _Collector()
    col.add(ids=[data.ids[i] for i in test], patients=data.groups[test], paths=[data.paths[i] for i in test],
            repeat=0, fold=0, synthetic=[0] * len(test), y_true=data.y[test],
            proba=pipe.predict_proba(data.X[test]), proba_raw=pipe.proba_raw(data.X[test]))
    shared = set(data.groups[train]) & set(data.groups[test])
    return ProtocolResult(
        protocol="module2",
        description=DESCRIPTION.format(pct=test_size, balance=cfg["balance"]),
        **col.columns(),
        final=pipe,
        final_note="the evaluated model itself: fitted on the training patients of the holdout split",
        audit=audit,
        leak_check={"test_rows_seen_by_training_components": test_rows_seen(audit, "module2", data.X[test]),
                    "test_patients_in_training": len(shared)},
        fits=[{"context": "module2", "n_test": len(test), **pipe.info}],
    )
