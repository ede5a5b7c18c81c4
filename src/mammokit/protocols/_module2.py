"""Module 2 (the paper's realistic protocol): hold out 20% of the ORIGINAL data by patient."""
from __future__ import annotations

from ..balance import Audit
from ._result import FITTED_ON_TRAINING, ProtocolData, ProtocolResult, _Collector, fit_split
from ._splits import grouped_holdout

DESCRIPTION = (
    "Module 2: {pct:.0%} of the original, imbalanced images are held out, stratified by class and grouped "
    f"by patient (both breasts of a woman on the same side). {FITTED_ON_TRAINING.capitalize()} use the remaining "
    "training patients only."
)


def run_module2(data: ProtocolData, cfg: dict) -> ProtocolResult:
    seed = int(cfg["seed"])
    test_size = float(cfg["protocol"].get("test_size", 0.2))
    train, test = grouped_holdout(data.y, data.groups, test_size, seed)
    audit = Audit()
    col = _Collector()
    fit = fit_split(data, cfg, train, test, col, audit, seed=seed, context="module2")
    return ProtocolResult(
        protocol="module2",
        description=DESCRIPTION.format(pct=test_size, balance=cfg["balance"]),
        **col.columns(),
        final=fit.pipe,
        final_note="the evaluated model itself: fitted on the training patients of the holdout split",
        audit=audit,
        leak_check={"test_rows_seen_by_training_components": fit.test_rows_seen,
                    "test_patients_in_training": fit.test_patients_in_training},
        fits=[fit.info],
    )
