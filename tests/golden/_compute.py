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
# Another CPU takes another MKL code path despite MKL_CBWR (Intel Xeon vs AMD EPYC moved AUCs by up to
# 0.003). Forcing each MKL path on one machine (MKL_CBWR=AVX, AVX2, AVX512, COMPATIBLE) moved values and CI
# bounds by at most: accuracy 0.008, balanced accuracy 0.008, macro F1 0.016, macro AUC 0.009 (2026-12-02,
# docs/reproducibility.md). A machine with no recorded entry must stay within these tolerances:
TOLERANCE = {"accuracy": 0.02, "balanced_accuracy": 0.02, "macro_f1": 0.03, "macro_roc_auc": 0.015}


def kernel_fingerprint() -> str:
    """Which training arithmetic this machine does: the bits of a small fixed torch MLP (the dense head's
    layer types, Adam, one thread) after 20 steps on seeded data. Equal fingerprints, equal golden figures;
    measured to differ between MKL code paths (MKL_CBWR values) that move the golden figures. Plain torch,
    not the project's code, so a change to the project does not change it."""
    import torch

    from mammokit._numerics import TRAINING_THREADS

    threads = torch.get_num_threads()
    torch.set_num_threads(TRAINING_THREADS)
    try:
        g = torch.Generator().manual_seed(0)
        X, y = torch.randn(96, 32, generator=g), torch.randint(0, 3, (96,), generator=g)
        torch.manual_seed(0)
        nn = torch.nn
        net = nn.Sequential(nn.Linear(32, 128), nn.BatchNorm1d(128), nn.ReLU(), nn.Dropout(0.5),
                            nn.Linear(128, 256), nn.BatchNorm1d(256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                            nn.Linear(128, 3))
        opt = torch.optim.Adam(net.parameters(), 1e-3)
        for _ in range(20):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(X), y).backward()
            opt.step()
        with torch.no_grad():
            out = net.eval()(X).numpy()
    finally:
        torch.set_num_threads(threads)
    return hashlib.sha256(np.ascontiguousarray(out, dtype="<f4").tobytes()).hexdigest()[:16]


def machine_entry(rows: dict) -> dict:
    from mammokit._numerics import numerics_report

    return {"cpu": numerics_report()["cpu"], "fingerprint": kernel_fingerprint(), "rows": rows}


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
