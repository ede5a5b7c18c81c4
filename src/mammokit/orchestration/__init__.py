"""Orchestration: one config -> one run folder, the paper comparison, the demo.

The layer above ``bundle`` and ``report`` and below ``cli`` / ``web``: it reads configs (one loader,
``_config.py``), runs the protocols on cached features, writes run folders and bundles, and chooses the
bundle `make serve` uses. Library code below it never imports it.

    from mammokit.orchestration import load_config, run_config
    run_dir = run_config(load_config("configs/mias-cv.yaml", ["protocol.repeats=1"]), "runs/mias-cv")
"""
from ._config import (
    DEFAULTS,
    check_choice,
    check_run_name,
    load_config,
    merge,
    parse_override,
    read_config_file,
    validate_config,
)
from ._demo import DEMO_LESION, DEMO_RUNS, DemoResult, demo_feature_overrides, run_demo
from ._experiment import RUN_MODEL_TYPES, build_metrics, run_config
from ._lesion_run import load_lesion_config, resolve_config, run_lesion, task_view

__all__ = [
    "DEFAULTS",
    "DEMO_LESION",
    "DEMO_RUNS",
    "RUN_MODEL_TYPES",
    "DemoResult",
    "build_metrics",
    "check_choice",
    "check_run_name",
    "demo_feature_overrides",
   
    "load_config",
    "load_lesion_config",
    "merge",
    "parse_override",
    "read_config_file",
    "resolve_config",
    "run_config",
    "run_demo",
    "run_lesion",
    "task_view",
    "validate_config",
]
