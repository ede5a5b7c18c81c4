"""Lesion-model feature maps, cold: PyTorch eager (the v1 path) vs ONNX Runtime (the default), side by side in
one run (issue 12).

Both runtimes compute ``features.compute_cell_maps`` for the SAME MIAS images at the configured input sizes
(configs/mias-lesion.yaml: backbone, sizes, intensity, threads), each into an empty feature cache, alternating
chunk by chunk so that load changes on a shared machine hit both alike. Engines are built (PyTorch backbones
built, ONNX exports made or loaded) before the clock starts; their one-time cost is reported separately.
Also reported: the largest difference between the two runtimes' float32 maps, per size, on one image.

    python benchmarks/maps.py                      # 16 images (8 women), chunks of 4, config's threads
    python benchmarks/maps.py --images 322         # all of MIAS (eager takes ~1 h on 2 busy cores)
    python benchmarks/maps.py --quick              # smoke: 2 images at 256 + 320 px
    python benchmarks/maps.py --out benchmarks/results/maps.json --update-docs
    python benchmarks/maps.py --from-json benchmarks/results/maps.json --update-docs   # re-render only

Also measured on the parity image, per size: the engine alone (median of 3 forward passes after a warm-up) for
eager and for three ONNX Runtime settings, with each setting's largest difference to eager: the default (batch
norm folded into the convolutions by the export, every graph optimisation including the NCHWc layout), the same
export without the NCHWc layout (ORT_ENABLE_EXTENDED), and batch norm kept as its own op with no graph
optimisation (the closest ORT gets to computing what eager computes, op for op). ``--no-engine-settings`` skips it.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, RESULTS, machine, save_results, table

DOC = REPO / "docs" / "performance.md"
CONFIG = REPO / "configs" / "mias-lesion.yaml"


def _settings(args) -> dict:
    from mammokit.orchestration import load_config

    cfg = load_config(CONFIG, [])
    sizes = [256, 320] if args.quick else (args.sizes or cfg["model"]["sizes"])
    return {"backbone": cfg["features"]["backbone"], "weights": cfg["features"]["weights"], "sizes": list(sizes),
            "intensity": cfg["model"].get("intensity", "none"),
            "threads": args.threads if args.threads is not None else cfg["features"]["threads"]}


def _build(runtime: str, s: dict, cache: Path) -> float:
    """Build (or load) the engines of every size; seconds taken (the one-time cost the cold rows exclude)."""
    from mammokit.features import load_engine

    t0 = time.perf_counter()
    for size in s["sizes"]:
        load_engine(s["backbone"], s["weights"], size, runtime, cache_dir=cache, threads=s["threads"])
    return time.perf_counter() - t0


def _parity(path: Path, s: dict, cache: Path) -> dict[str, dict]:
    """Largest |eager - ONNX| per size on one image, and at the largest size each float32 runtime's distance
    to the same network run in float64 (the float32 floor both runtimes sit on)."""
    import copy

    import torch

    from mammokit.features import load_backbone, maps_for_image
    from mammokit.features._maps import _prepare
    from mammokit.io import read_image

    image = read_image(path)
    kw = {"backbone": s["backbone"], "weights": s["weights"], "sizes": s["sizes"], "intensity": s["intensity"],
          "threads": s["threads"], "cache_dir": cache, "dtype": np.float32}
    a, _ = maps_for_image(image, runtime="torch", **kw)
    b, _ = maps_for_image(image, runtime="onnx", **kw)
    big = max(s["sizes"])
    x = _prepare(image, [big], "imagenet", s["intensity"]).tensors[big][None]
    net = copy.deepcopy(load_backbone(s["backbone"], s["weights"], big).module).double().eval()
    with torch.inference_mode():
        ref = net(torch.from_numpy(x).double()).numpy()[0]
    return {"eager_vs_onnx": {size: float(np.abs(a[size].features - b[size].features).max()) for size in s["sizes"]},
            "vs_float64_at": big, "eager_vs_float64": float(np.abs(a[big].features - ref).max()),
            "onnx_vs_float64": float(np.abs(b[big].features - ref).max())}


def _export_unfused(module, size: int) -> bytes:
    """The backbone exported with its batch norms as BatchNormalization nodes (the project's export folds them)."""
    import io
    import warnings

    import torch

    from mammokit.features._onnx import INPUT_NAME, OPSET, OUTPUT_NAME

    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (torch.zeros(1, 3, size, size),), buf, dynamo=False, opset_version=OPSET,
                          training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False,
                          input_names=[INPUT_NAME], output_names=[OUTPUT_NAME])
    module.eval()
    return buf.getvalue()


def _engine_settings(path: Path, s: dict) -> list[dict]:
    """Per size: seconds of one forward pass (eager, three ONNX Runtime settings) and each setting's largest
    |eager - ONNX| on the parity image, before any float16 storage."""
    import onnxruntime as ort
    import torch

    from mammokit.features import load_backbone
    from mammokit.features._maps import _prepare
    from mammokit.features._onnx import export_onnx, session_options
    from mammokit.io import read_image

    level = ort.GraphOptimizationLevel
    prep = _prepare(read_image(path), s["sizes"], "imagenet", s["intensity"])

    def timed(fn, repeats: int = 3):
        out = fn()  # warm-up
        secs = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            secs.append(time.perf_counter() - t0)
        return out, float(np.median(secs))

    rows = []
    for size in s["sizes"]:
        x = prep.tensors[size][None]
        module = load_backbone(s["backbone"], s["weights"], size).module.eval()
        with torch.inference_mode():
            eager, t_eager = timed(lambda: module(torch.from_numpy(x)).numpy())
        row = {"size": size, "eager_s": t_eager}
        folded = export_onnx(module, size)
        for key, model, opt in (("default", folded, level.ORT_ENABLE_ALL),
                                ("no_layout", folded, level.ORT_ENABLE_EXTENDED),
                                ("bn_kept", _export_unfused(module, size), level.ORT_DISABLE_ALL)):
            so = session_options(s["threads"])
            so.graph_optimization_level = opt
            sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
            y, secs = timed(lambda: sess.run(None, {sess.get_inputs()[0].name: x})[0])
            row[f"{key}_s"], row[f"{key}_diff"] = secs, float(np.abs(y - eager).max())
            row[f"{key}_speedup"] = t_eager / secs
        rows.append(row)
        print(f"  engine settings at {size} px: " + ", ".join(f"{k} {v:.3g}" for k, v in row.items() if k != "size"),
              flush=True)
    return rows


def run(args) -> dict:
    import torch

    from mammokit.datasets import load_dataset
    from mammokit.features import compute_cell_maps

    s = _settings(args)
    if s["threads"]:
        torch.set_num_threads(int(s["threads"]))  # eager runs with the same thread count as the ONNX sessions
    n = 2 if args.quick else args.images
    records = load_dataset("mias", None)[:n]
    info = machine()
    print(f"{info['cpu']}, {info['cores']} cores, load {info['load_avg_1m']}; {s['backbone']} at {s['sizes']} px, "
          f"intensity {s['intensity']}, {s['threads']} thread(s); {len(records)} images", flush=True)
    with tempfile.TemporaryDirectory(prefix="maps-bench-") as tmp:
        tmp = Path(tmp)
        build = {rt: _build(rt, s, tmp) for rt in ("torch", "onnx")}
        parity = _parity(Path(records[0].path), s, tmp)  # also warms both runtimes up, untimed
        secs = {"torch": 0.0, "onnx": 0.0}
        chunks = []  # (eager s, ONNX s) per chunk: the paired ratio is robust to a load spike in one chunk
        chunk = max(1, args.chunk)
        for k, start in enumerate(range(0, len(records), chunk)):
            part = records[start: start + chunk]
            order = ("torch", "onnx") if k % 2 == 0 else ("onnx", "torch")
            pair = {}
            for rt in order:
                _, st = compute_cell_maps(part, backbone=s["backbone"], weights=s["weights"], sizes=s["sizes"],
                                          intensity=s["intensity"], threads=s["threads"], runtime=rt,
                                          cache_dir=tmp / f"{rt}-{k}", progress=False)
                assert st["computed"] == len(part), st
                secs[rt] += st["seconds"]
                pair[rt] = st["seconds"]
            chunks.append((pair["torch"], pair["onnx"]))
            print(f"  {start + len(part)}/{len(records)}: eager {secs['torch']:.1f} s, onnx {secs['onnx']:.1f} s",
                  flush=True)
    per = {rt: secs[rt] / len(records) for rt in secs}
    row = {"images": len(records), "sizes": "+".join(map(str, s["sizes"])), "backbone": s["backbone"],
           "threads": s["threads"], "eager_s": secs["torch"], "onnx_s": secs["onnx"],
           "eager_s_per_img": per["torch"], "onnx_s_per_img": per["onnx"], "speedup": secs["torch"] / secs["onnx"],
           "speedup_chunk_median": float(np.median([e / o for e, o in chunks])),
           "eager_322_est_min": per["torch"] * 322 / 60, "onnx_322_est_min": per["onnx"] * 322 / 60,
           "build_eager_s": build["torch"], "build_onnx_s": build["onnx"],
           "max_abs_diff": max(parity["eager_vs_onnx"].values()),
           "eager_vs_float64": parity["eager_vs_float64"], "onnx_vs_float64": parity["onnx_vs_float64"]}
    engine = None if args.no_engine_settings else _engine_settings(Path(records[0].path), s)
    return {"machine": info, "settings": s, "chunk": args.chunk, "result": row, "parity_by_size": parity,
            "chunks_eager_onnx_s": chunks, "engine_settings": engine}


def markdown(payload: dict) -> str:
    m, r = payload["machine"], payload["result"]
    head = (f"Machine: {m['cpu']}, {m['cores']} cores; {m['date_utc']} UTC; commit {m['commit']}; load average at "
            f"start {m['load_avg_1m']}; torch {m['torch']}, onnxruntime {m['onnxruntime']}. Cold = empty feature "
            f"cache, engines already built; the two runtimes alternate in chunks of {payload['chunk']} images.")
    cols = [("images", "images"), ("backbone", "backbone"), ("sizes", "px"), ("threads", "threads"),
            ("eager_s", "eager s"), ("onnx_s", "ONNX s"), ("eager_s_per_img", "eager s/img"),
            ("onnx_s_per_img", "ONNX s/img"), ("speedup", "eager / ONNX"), ("speedup_chunk_median", "median of chunk ratios"),
            ("eager_322_est_min", "eager, 322 images (est. min)"), ("onnx_322_est_min", "ONNX, 322 images (est. min)"),
            ("build_eager_s", "build eager s"), ("build_onnx_s", "build/export ONNX s"),
            ("max_abs_diff", "max abs diff"), ("eager_vs_float64", "eager vs float64"),
            ("onnx_vs_float64", "ONNX vs float64")]
    target = r["speedup"] >= 5
    med = r.get("speedup_chunk_median")
    chunks = ", ".join(f"{e:.0f}/{o:.0f}" for e, o in payload.get("chunks_eager_onnx_s", []))
    tail = (f"Cold maps, ONNX Runtime vs PyTorch eager: **{r['speedup']:.1f}x** faster in total"
            + (f", {med:.1f}x as the median of the per-chunk ratios (eager/ONNX s per chunk: {chunks})" if med else "")
            + f" (target >= 5x on the total: {'met' if target else 'NOT met'}); largest |eager - ONNX| over every map value: {r['max_abs_diff']:.2g} "
            f"(target <= 1e-4: {'met' if r['max_abs_diff'] <= 1e-4 else 'NOT met'}).")
    parity = payload["parity_by_size"]
    per = ", ".join(f"{k} px {v:.2g}" for k, v in parity.get("eager_vs_onnx", parity).items())
    tail += f" By size: {per}."
    if "vs_float64_at" in parity:  # results written before this column existed lack it
        tail += (f" For scale: at {parity['vs_float64_at']} px eager float32 is {r['eager_vs_float64']:.2g} and ONNX "
                 f"{r['onnx_vs_float64']:.2g} from the same network run in float64.")
    tail += " The cache stores maps as float16: a rounding step of 2e-3 to 4e-3 at activations of 4-6."
    parts = [head, table([r], cols), tail]
    if payload.get("engine_settings"):
        ecols = [("size", "px"), ("eager_s", "eager s")]
        for key, name in (("default", "ONNX default"), ("no_layout", "ONNX without NCHWc"),
                          ("bn_kept", "ONNX, BN kept, no optimisation")):
            ecols += [(f"{key}_s", f"{name} s"), (f"{key}_speedup", f"{name}: eager / ONNX"),
                      (f"{key}_diff", f"{name}: max abs diff")]
        parts.append(table(payload["engine_settings"], ecols,
                           "Engine alone on the parity image, seconds per forward pass (median of 3 after a warm-up): "
                           "ONNX Runtime settings against eager"))
    return "\n\n".join(parts)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: 2 images at 256 + 320 px")
    ap.add_argument("--images", type=int, default=16, help="first N MIAS images (both breasts of N/2 women)")
    ap.add_argument("--chunk", type=int, default=4, help="images per alternation")
    ap.add_argument("--sizes", type=int, nargs="*", default=None, help="override the configured sizes")
    ap.add_argument("--threads", type=int, default=None, help="override the configured thread count")
    ap.add_argument("--no-engine-settings", action="store_true", help="skip the per-size engine-settings sweep")
    ap.add_argument("--out", type=Path, default=None, help=f"write JSON + Markdown (e.g. {RESULTS / 'maps.json'})")
    ap.add_argument("--update-docs", action="store_true", help="copy the table into docs/performance.md")
    ap.add_argument("--from-json", type=Path, default=None, help="re-render a saved result instead of measuring")
    args = ap.parse_args(argv)
    payload = json.loads(args.from_json.read_text()) if args.from_json else run(args)
    text = markdown(payload)
    print("\n" + text)
    if not args.from_json:
        save_results(args.out, payload, text)
    if args.update_docs:
        from update_docs import replace_section

        DOC.write_text(replace_section(DOC.read_text(), "maps", text))
        print(f"updated {DOC}")
    return payload


if __name__ == "__main__":
    main()
