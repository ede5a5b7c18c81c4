"""Backbone throughput vs the machine's own matrix-multiply rate (issue 7, benchmark 1).

For each backbone (at the input size the project uses), runtime (PyTorch eager fp32, PyTorch channels_last,
ONNX Runtime) and batch size (1, 8, 32): images/s as the median over repeated calls. Each (backbone, runtime)
runs in its own child process, so one runtime's worker threads (OpenMP threads keep spinning after a torch
op) never slow another's. The child first measures dense fp32 matmul GFLOP/s (torch.mm, large square) in
the same process and moments before its model runs; FLOPs per image come from torch.utils.flop_counter
(2 FLOPs per multiply-add, as for matmul's 2 n^3), and achieved GFLOP/s = FLOPs x images/s is reported as
a fraction of that adjacent matmul rate and of the best matmul rate of the whole run. numpy's matmul is
measured too, for reference. A second table compares thread settings for the default backbone.

    python benchmarks/throughput.py            # full run (~10 min on 2 busy cores), writes benchmarks/results/
    python benchmarks/throughput.py --quick    # smoke run: lite0 at 64 px, batch 1 and 2, one repeat
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, RESULTS, machine, median, save_results, table, time_calls

# backbone -> (input size used by the project, weights). ResNet50 ImageNet weights are not on this
# machine; random weights time the same.
BACKBONES = {
    "efficientnet_lite0": (224, None),
    "efficientnet_lite2": (384, None),
    "resnet50": (224, "random"),
}
RUNTIMES = ("torch", "torch-channels-last", "onnx")
DEFAULT_BACKBONE = "efficientnet_lite2"


def _ort_matmul(n: int, threads: int):
    """A one-node ONNX MatMul run by ONNX Runtime with the engine's session options (its MLAS kernels)."""
    import onnxruntime as ort
    from onnx import TensorProto, helper

    from mammokit.features._onnx import session_options

    io = [helper.make_tensor_value_info(k, TensorProto.FLOAT, [n, n]) for k in ("A", "B", "Y")]
    graph = helper.make_graph([helper.make_node("MatMul", ["A", "B"], ["Y"])], "mm", io[:2], io[2:])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    sess = ort.InferenceSession(model.SerializeToString(), session_options(threads), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    feeds = {k: rng.standard_normal((n, n)).astype(np.float32) for k in ("A", "B")}
    return lambda: sess.run(None, feeds)


def matmul_gflops(threads: int, n: int, repeats: int) -> dict:
    """Dense fp32 square matmul rate, 2 n^3 FLOPs per product, three ways: torch.mm (MKL), numpy (OpenBLAS)
    and ONNX Runtime (MLAS); median (typical now) and best (the limit) of each. The libraries do not all use
    the same SIMD kernels on every CPU, so the fastest of them is the fair measure of the machine."""
    import torch

    torch.set_num_threads(threads)
    a, b = torch.randn(n, n), torch.randn(n, n)
    an, bn = a.numpy(), b.numpy()
    flops = 2.0 * n ** 3
    out = {"n": n}
    for lib, fn in (("torch", lambda: torch.mm(a, b)), ("numpy", lambda: an @ bn), ("onnxruntime", _ort_matmul(n, threads))):
        ts = time_calls(fn, repeats, warmup=1)
        out[f"{lib}_gflops"], out[f"{lib}_best_gflops"] = flops / median(ts) / 1e9, flops / min(ts) / 1e9
    out["fastest_gflops"] = max(out[f"{k}_gflops"] for k in ("torch", "numpy", "onnxruntime"))
    return out


def model_flops(module, size: int) -> float:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        module(torch.zeros(1, 3, size, size))
    return float(counter.get_total_flops())


def make_engine(runtime: str, backbone: str, size: int, weights, threads: int, cache_dir: Path, spinning=False):
    from mammokit.features._engine import ENGINES, EngineSpec, load_backbone
    from mammokit.features._identity import backbone_identity
    from mammokit.features._onnx import cached_onnx_engine

    if runtime == "onnx":  # built directly so the spinning setting can vary
        return cached_onnx_engine(backbone_identity(backbone, weights, size), size, cache_dir,
                                  lambda: load_backbone(backbone, weights, size).module, threads=threads,
                                  spinning=spinning)
    return ENGINES[runtime](EngineSpec(backbone, weights, size, str(cache_dir), threads))


def bench_engine(engine, size: int, batch: int, repeats: int, budget_s: float) -> tuple[float, int]:
    """Images/s: median of up to ``repeats`` timed calls after one warm-up call; a configuration so slow
    that its repeats would exceed ``budget_s`` gets fewer (at least one)."""
    x = np.random.default_rng(0).standard_normal((batch, 3, size, size)).astype(np.float32)
    first = time_calls(lambda: engine(x), 1, warmup=0)[0]
    n = max(1, min(repeats, int(budget_s / max(first, 1e-9))))
    return batch / median(time_calls(lambda: engine(x), n, warmup=0)), n


def child(job: dict) -> dict:
    """One (backbone, runtime, threads) configuration, alone in this process."""
    import torch

    from mammokit.features._engine import load_backbone

    torch.set_num_threads(job["threads"])
    size, weights = job["size"], job["weights"]
    engine = make_engine(job["runtime"], job["backbone"], size, weights, job["threads"], Path(job["cache"]),
                         spinning=job.get("spinning", False))
    flops = model_flops(load_backbone(job["backbone"], weights, size).module, size)
    mm = matmul_gflops(job["threads"], job["mm_n"], job["repeats"] + 2)
    rows = []
    for batch in job["batches"]:
        ips, calls = bench_engine(engine, size, batch, job["repeats"], job["budget"])
        rows.append({"batch": batch, "images_per_s": ips, "calls": calls})
    return {"gflop_per_image": flops / 1e9, "matmul": mm, "rows": rows}


def run_child(job: dict) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(job)], capture_output=True, text=True,
                          cwd=REPO, check=False)
    if proc.returncode:
        raise SystemExit(f"benchmark child failed for {job['backbone']} {job['runtime']}: {proc.stderr[-1500:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: lite0 at 64 px, batches 1 and 2, one repeat")
    ap.add_argument("--repeats", type=int, default=3, help="timed calls per configuration (median reported)")
    ap.add_argument("--budget", type=float, default=30.0, help="seconds of timed calls per configuration, at most")
    ap.add_argument("--threads", type=int, default=None, help="intra-op threads (default: all cores)")
    ap.add_argument("--backbones", nargs="+", default=list(BACKBONES), choices=list(BACKBONES))
    ap.add_argument("--batches", nargs="+", type=int, default=[1, 8, 32])
    ap.add_argument("--cache", type=Path, default=None, help="where ONNX exports are cached (default: the project cache)")
    ap.add_argument("--out", type=Path, default=None,
                    help="JSON path (default benchmarks/results/throughput.json; --quick writes only when given)")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return {}

    from mammokit.constants import DEFAULT_CACHE_DIR
    from mammokit.features._onnx import default_threads

    threads = args.threads or default_threads()
    sizes = {k: v for k, v in BACKBONES.items() if k in args.backbones}
    batches, repeats, mm_n = args.batches, args.repeats, 2048
    if args.quick:
        sizes, batches, repeats, mm_n = {"efficientnet_lite0": (64, None)}, [1, 2], 1, 512
    cache = args.cache or (Path(tempfile.mkdtemp(prefix="mk-bench-")) if args.quick else DEFAULT_CACHE_DIR)
    base = {"cache": str(cache), "mm_n": mm_n, "repeats": repeats, "budget": args.budget}

    info = machine()
    print(f"machine: {info['cpu']}, {info['cores']} cores, load {info['load_avg_1m']}, threads {threads}, "
          f"commit {info['commit']}", flush=True)

    rows, matmuls = [], []
    for name, (size, weights) in sizes.items():
        for runtime in RUNTIMES:
            res = run_child({**base, "backbone": name, "size": size, "weights": weights, "runtime": runtime,
                             "threads": threads, "batches": batches})
            mm = res["matmul"]
            matmuls.append({"backbone": name, "runtime": runtime, **mm})
            for r in res["rows"]:
                ach = res["gflop_per_image"] * r["images_per_s"]
                rows.append({"backbone": name, "size": size, "runtime": runtime, **r,
                             "gflop_per_image": res["gflop_per_image"], "achieved_gflops": ach,
                             "matmul_gflops_adjacent": mm["fastest_gflops"]})
                print(f"  {name}@{size} {runtime:<20} batch {r['batch']:>2}: {r['images_per_s']:7.2f} img/s "
                      f"(matmul in the same process: torch {mm['torch_gflops']:.1f}, numpy {mm['numpy_gflops']:.1f}, "
                      f"onnxruntime {mm['onnxruntime_gflops']:.1f} GFLOP/s)", flush=True)

    # Thread settings for the project's default backbone (or the quick one) at batch 8.
    set_name = DEFAULT_BACKBONE if DEFAULT_BACKBONE in sizes else next(iter(sizes))
    set_size, set_w = sizes[set_name]
    set_batch = 8 if 8 in batches else batches[-1]
    grid = [("onnx", threads, False), ("onnx", threads, True), ("onnx", 1, False), ("torch", threads, False),
            ("torch", 1, False)]
    settings = []
    for runtime, n_threads, spinning in grid[:1] if args.quick else grid:
        res = run_child({**base, "backbone": set_name, "size": set_size, "weights": set_w, "runtime": runtime,
                         "threads": n_threads, "spinning": spinning, "batches": [set_batch], "mm_n": 256})
        ips = res["rows"][0]["images_per_s"]
        settings.append({"backbone": set_name, "size": set_size, "batch": set_batch, "runtime": runtime,
                         "threads": n_threads, "spinning": spinning if runtime == "onnx" else None,
                         "images_per_s": ips})
        print(f"  settings {runtime} threads={n_threads} spinning={spinning}: {ips:.2f} img/s", flush=True)

    # The machine's limit: the best dense matmul rate seen in the whole run, by any of the three libraries.
    bests = {lib: max(m[f"{lib}_best_gflops"] for m in matmuls) for lib in ("torch", "numpy", "onnxruntime")}
    peak = max(bests.values())
    for r in rows:
        r["fraction_of_matmul"] = r["achieved_gflops"] / peak
        r["fraction_of_adjacent_matmul"] = r["achieved_gflops"] / r["matmul_gflops_adjacent"]
    best = {}
    for r in rows:
        if r["backbone"] not in best or r["images_per_s"] > best[r["backbone"]]["images_per_s"]:
            best[r["backbone"]] = r

    cols = [("backbone", "backbone"), ("size", "px"), ("runtime", "runtime"), ("batch", "batch"),
            ("images_per_s", "images/s"), ("gflop_per_image", "GFLOP/img"), ("achieved_gflops", "GFLOP/s"),
            ("matmul_gflops_adjacent", "matmul GFLOP/s (same process)"),
            ("fraction_of_adjacent_matmul", "of adjacent matmul"), ("fraction_of_matmul", "of best matmul")]
    md = [
        (f"Machine: {info['cpu']}, {info['cores']} cores; {info['date_utc']} UTC; commit {info['commit']}; "
         f"load average at start {info['load_avg_1m']}; {threads} threads; medians of up to {repeats} timed calls "
         f"after a warm-up (fewer where they would exceed {args.budget:.0f} s)."),
        "",
        (f"Dense fp32 matmul ({mm_n}x{mm_n}) is measured in each runtime's own process just before its model runs "
         f"with torch.mm (MKL), numpy (OpenBLAS) and ONNX Runtime (MLAS); \"matmul GFLOP/s (same process)\" is "
         f"the fastest of the three medians there, and \"of adjacent matmul\" divides achieved GFLOP/s by it. "
         f"\"of best matmul\" divides by the best matmul rate of the whole run, {peak:.1f} GFLOP/s (best torch.mm "
         f"{bests['torch']:.1f}, numpy {bests['numpy']:.1f}, ONNX Runtime {bests['onnxruntime']:.1f}). On cores "
         f"shared with other jobs the rates move by a factor of 2 or more from one minute to the next, so a row "
         f"measured in a quieter moment than every matmul sample can exceed 1."),
        "",
        table(rows, cols, "Backbone throughput"),
        "",
        table([{**b, "backbone": k} for k, b in best.items()], cols, "Best configuration per backbone"),
        "",
        table(settings, [("backbone", "backbone"), ("size", "px"), ("batch", "batch"), ("runtime", "runtime"),
                         ("threads", "threads"), ("spinning", "ORT spinning"), ("images_per_s", "images/s")],
              "Thread settings"),
    ]
    text = "\n".join(md)
    print("\n" + text)
    payload = {"machine": info, "threads": threads, "repeats": repeats, "quick": args.quick,
               "matmul": {"per_process": matmuls, "reference_gflops": peak, "best_by_library": bests},
               "rows": rows, "best": best, "settings": settings}
    save_results(args.out or (None if args.quick else RESULTS / "throughput.json"), payload, text)
    return payload


if __name__ == "__main__":
    main()
