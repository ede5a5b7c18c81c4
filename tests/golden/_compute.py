"""The golden regression figures: the demo's protocol rows and one comparison cell, from one fixed matrix.

Everything here runs the project's own code (config loaders, protocols, metrics) on
tests/golden/mias_features.npz, a committed float32 matrix, so the figures depend only on the training
and evaluation code and the pinned math libraries, not on how a CPU computes backbone features.
`expected.json` holds the figures; `python tests/golden/update_expected.py` rewrites it, and the commit
that changes it must say why.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
CONFIGS = HERE.parents[1] / "configs"
FEATURES = HERE / "mias_features.npz"
EXPECTED = HERE / "expected.json"
# The demo's three protocol configs, and the comparison's CNN-LSTM + SMOTE under Module 2 (the cell that
# moved furthest between two machines before the math libraries were pinned).
DEMO_CONFIGS = {"paper-module1": "paper-module1.yaml", "paper-module2": "paper-module2.yaml",
                "mias-cv": "mias-cv.yaml"}
COMPARISON_CELL = ("cnn_lstm_smote", "module2")
SEQ_LEN = 4  # the 32 columns read as 4 steps of 8
N_BOOT = 200  # fewer bootstrap draws than the demo's 1000: the CI arithmetic is the same, faster
METRICS = ("accuracy", "balanced_accuracy", "macro_f1", "macro_roc_auc")


def _data():
    from mammokit.protocols import ProtocolData

    z = np.load(FEATURES)
    paths = [""] * len(z["ids"])
    return ProtocolData(z["X"], z["y"], z["groups"], list(z["ids"]), paths, tuple(z["classes"]))


def _figures(cfg: dict, data) -> dict:
    from mammokit.orchestration import build_metrics
    from mammokit.protocols import run_protocol

    result = run_protocol(cfg["protocol"]["name"], data, cfg)
    m = build_metrics(cfg, result, data.classes, n_images=len(data.y), n_patients=len(set(data.groups)),
                      timing={})
    out = {k: {"value": m["metrics"][k]["value"], "ci": m["metrics"][k]["ci"]} for k in METRICS}
    out["confusion_matrix"] = m["metrics"]["confusion_matrix"]
    # every calibrated probability, to the last bit
    out["proba_sha256"] = hashlib.sha256(np.ascontiguousarray(result.proba, dtype="<f8").tobytes()).hexdigest()
    return out


def compute() -> dict:
    from mammokit.orchestration import load_config
    from mammokit.orchestration.compare._config import load_comparison_config
    from mammokit.orchestration.compare._run import _cell_config

    data = _data()
    rows = {}
    for name, file in DEMO_CONFIGS.items():
        cfg = load_config(CONFIGS / file, [f"bootstrap.n={N_BOOT}"])
        rows[name] = _figures(cfg, data)
    model, protocol = COMPARISON_CELL
    ccfg = load_comparison_config(CONFIGS / "paper-comparison.yaml", [f"bootstrap.n={N_BOOT}"])
    cell = _cell_config(ccfg, model, protocol, SEQ_LEN)
    rows[f"comparison:{model}-{protocol}"] = _figures(cell, data)
    return rows
