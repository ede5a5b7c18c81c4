"""How far `make demo`'s figures move when the backbone features move in their last bits.

Training and evaluation repeat to the last bit on any machine of this kind (the math libraries are pinned,
tests/test_golden.py). What can still differ between two CPUs is the features: ONNX Runtime picks its
kernels from the CPU's instruction set and has no switch to pin them. This script measures what such
differences do to the published figures, on one machine:

- reference: the cached ONNX Runtime features `make demo` uses;
- ONNX Runtime recomputed from scratch (a fresh cache): must equal the reference bit for bit;
- the PyTorch eager engine: the same network through other kernels (differs from ONNX Runtime by ~1e-6),
  the closest thing to another CPU's kernels that one machine offers;
- the reference features times (1 + 1e-6 * N(0, 1)), three noise seeds: perturbations of the same size.

For each variant it reruns the demo's three protocols (Module 1, Module 2, CV; same configs and seed) and
prints every headline figure's reference value and its spread (min-max over the variants).

    .venv/bin/python benchmarks/reproducibility.py --out benchmarks/results/reproducibility.json
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import REPO, machine, save_results, table

from mammokit.datasets import load_dataset, task_targets
from mammokit.features import extract_features, resolve_preprocess
from mammokit.orchestration import CONFIGS_DIR, DEMO_RUNS, build_metrics, demo_feature_overrides, load_config
from mammokit.protocols import ProtocolData, run_protocol

BACKBONE, SIZE = "efficientnet_lite2", 384
FIGURES = ("accuracy", "balanced_accuracy", "macro_f1", "macro_roc_auc")
NOISE = 1e-6


def feature_variants(used, pre) -> dict[str, np.ndarray]:
    ref = extract_features(used, backbone=BACKBONE, preprocess=pre, progress=False).X
    out = {"reference (cached ONNX Runtime)": ref}
    for runtime in ("onnx", "torch"):
        with tempfile.TemporaryDirectory() as tmp:
            X = extract_features(used, backbone=BACKBONE, preprocess=pre, runtime=runtime, cache_dir=tmp,
                                 progress=False).X
        label = "ONNX Runtime recomputed" if runtime == "onnx" else "PyTorch eager engine"
        out[label] = X
    for seed in (1, 2, 3):
        rng = np.random.default_rng(seed)
        out[f"reference x (1 + 1e-6 N(0,1)), seed {seed}"] = (
            ref * (1 + NOISE * rng.standard_normal(ref.shape))).astype(np.float32)
    return out


def figures(X, td, used) -> dict:
    data = ProtocolData(X, td.y, np.asarray(td.groups, dtype=str), [r.id for r in used],
                        [str(r.path) for r in used], td.classes)
    out = {}
    for cfg_file, name in DEMO_RUNS:
        cfg = load_config(CONFIGS_DIR / cfg_file, demo_feature_overrides(BACKBONE, SIZE))
        result = run_protocol(cfg["protocol"]["name"], data, cfg)
        m = build_metrics(cfg, result, td.classes, n_images=len(used), n_patients=len(set(data.groups)), timing={})
        out[name] = {k: m["metrics"][k]["value"] for k in FIGURES}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    t0 = time.perf_counter()
    records = load_dataset("mias", None)
    td = task_targets(records, "3class")
    used = [records[i] for i in td.indices]
    pre = resolve_preprocess(BACKBONE, None, size=SIZE)
    variants = feature_variants(used, pre)
    ref_key = next(iter(variants))
    ref = variants[ref_key]
    diffs = {k: float(np.max(np.abs(v - ref) / np.maximum(np.abs(ref), 1e-3))) for k, v in variants.items()}
    results = {k: figures(v, td, used) for k, v in variants.items()}
    rows = []
    for _, run in DEMO_RUNS:
        for fig in FIGURES:
            vals = [results[k][run][fig] for k in variants]
            rows.append({"run": run, "figure": fig, "reference": results[ref_key][run][fig],
                         "min": min(vals), "max": max(vals), "spread": max(vals) - min(vals),
                         "variants_differing": sum(v != results[ref_key][run][fig] for v in vals)})
    var_rows = [{"variant": k, "max_rel_feature_diff": diffs[k],
                 "identical_figures": results[k] == results[ref_key]} for k in variants]
    text = "\n\n".join([
        table(var_rows, [("variant", "feature variant"), ("max_rel_feature_diff", "max relative feature difference"),
                         ("identical_figures", "all figures identical to the reference")],
              title="Feature variants"),
        table(rows, [("run", "run"), ("figure", "figure"), ("reference", "reference"), ("min", "min"),
                     ("max", "max"), ("spread", "spread"), ("variants_differing", "variants that differ")],
              title=f"Demo figures over {len(variants)} feature variants"),
    ])
    print(text)
    payload = {"machine": machine(), "variants": var_rows, "figures": rows, "per_variant": results,
               "seconds": round(time.perf_counter() - t0, 1), "repo": str(REPO)}
    save_results(args.out, payload, text)


if __name__ == "__main__":
    main()
