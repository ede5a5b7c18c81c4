"""Same seed, same numbers on every machine of a kind: pin the math libraries before they load.

Seeds and single-threaded deterministic torch kernels (models/_dense_head.py) make a run repeat on one
machine. Across machines the floats still moved, because the libraries pick their kernels from the CPU:
Intel MKL (torch's BLAS here) takes an AVX-512 path on Intel and an AVX2 path on AMD, and torch's own
vectorised kernels follow the CPU's capability. Measured on this project: setting MKL_CBWR alone moved
Module 1's macro AUC in the fourth decimal, so a different CPU moves it too. MKL's "conditional numerical
reproducibility" mode (MKL_CBWR) pins its code path; ATEN_CPU_CAPABILITY and ONEDNN_MAX_CPU_ISA pin
torch's and oneDNN's to AVX2, which every x86-64 machine of this kind has. Values already in the
environment win (a user may choose another pin).

ONNX Runtime (the default feature engine) gave bit-identical features for 1 and 2 threads here; it has
no switch for its CPU dispatch, so features computed on a CPU with another instruction set may differ in
the last bits. docs/reproducibility.md gives the measured spread that such differences cause.

These variables only act if they are set before the libraries load, so ``mammokit/__init__`` calls
``pin_math_libraries()`` first thing; ``numerics_report()`` records in every run what was in force.
"""
from __future__ import annotations

import os
import platform
import sys

PINNED_ENV = {
    "MKL_CBWR": "AVX2,STRICT",  # Intel MKL: same code path and results on every AVX2 CPU
    "ATEN_CPU_CAPABILITY": "avx2",  # torch's own vectorised kernels
    "ONEDNN_MAX_CPU_ISA": "AVX2",  # oneDNN (torch's mkldnn convolutions)
}
TRAINING_THREADS = 1  # intra-op threads while a model trains: reductions then run in one fixed order

_LOADED_BEFORE_PIN: list[str] = []


def pin_math_libraries() -> None:
    """Set the reproducibility variables (unless already set); note libraries that loaded too early."""
    _LOADED_BEFORE_PIN[:] = [m for m in ("torch", "onnxruntime") if m in sys.modules]
    for key, value in PINNED_ENV.items():
        os.environ.setdefault(key, value)


def numerics_report() -> dict:
    """What governed the floats of this process: pinned variables, libraries, CPU (for metrics.json)."""
    versions = {}
    for name in ("numpy", "torch", "onnxruntime", "sklearn", "imblearn"):
        mod = sys.modules.get(name)
        if mod is not None:
            versions[name] = getattr(mod, "__version__", None)
    return {
        "env": {k: os.environ.get(k) for k in PINNED_ENV},
        "pinned_before_load": not _LOADED_BEFORE_PIN,
        "loaded_before_pin": list(_LOADED_BEFORE_PIN),
        "training_threads": TRAINING_THREADS,
        "machine": platform.machine(),
        "cpu": _cpu_model(),
        "versions": versions,
    }


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None
