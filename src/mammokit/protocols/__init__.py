"""Evaluation protocols: module1 (the paper's LEAKY balanced split), module2 (patient-grouped
holdout of the original data) and cv (repeated patient-grouped k-fold)."""
from __future__ import annotations

from ..errors import ConfigError
from ._cv import run_cv
from ._lesion_cv import LesionCVResult, cross_validate, leak_audit
from ._module1 import run_module1
from ._module2 import run_module2
from ._result import ProtocolData, ProtocolResult
from ._splits import grouped_holdout, grouped_kfold
from ._training import AuditedScaler, FittedPipeline, fit_pipeline

PROTOCOLS = {"module1": run_module1, "module2": run_module2, "cv": run_cv}


def run_protocol(name: str, data: ProtocolData, cfg: dict) -> ProtocolResult:
    """Run protocol ``name`` with config sections model, balance, calibration, protocol and seed."""
    try:
        fn = PROTOCOLS[name]
    except KeyError:
        raise ConfigError(f"protocol.name: unknown protocol {name!r}; choose one of {', '.join(PROTOCOLS)}") from None
    return fn(data, cfg)


__all__ = [
    "PROTOCOLS",
    "AuditedScaler",
    "FittedPipeline",
    "LesionCVResult",
    "ProtocolData",
    "ProtocolResult",
    "cross_validate",
    "fit_pipeline",
    "grouped_holdout",
    "grouped_kfold",
    "leak_audit",
    "run_cv",
    "run_module1",
    "run_module2",
    "run_protocol",
]
