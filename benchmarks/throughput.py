"""Backbone throughput vs the machine's own matrix-multiply rate (issue 7, benchmark 1).

For each backbone (at the input size the project uses), runtime (PyTorch eager fp32, PyTorch channels_last,
ONNX Runtime) and batch size (1, 8, 32): images/s as the median over repeated calls. In the same run it
measures dense fp32 matmul GFLOP/s (torch.mm and numpy, large square) before and after the models, counts
each backbone's FLOPs per image (torch.utils.flop_counter: 2 FLOPs per multiply-add, as for matmul) and
reports achieved GFLOP/s = FLOPs x images/s as a fraction of the matmul rate. A second table compares
thread settings (1 vs all cores, ONNX Runtime worker spinning on/off) for the default backbone.

    python benchmarks/throughput.py            # full run (< ~10 min on 2 cores), writes benchmarks/results/
    python benchmarks/throughput.py --quick    # smoke run: lite0 at 64 px, batch 1 and 2, one repeat, ~15 s
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, machine, median, table, time_calls, write_json, write_markdown

# backbone -> (input size used by the project, weights). ResNet50 ImageNet weights are not on this
# machine; random weights time the same.
BACKBONES = {
    "efficientnet_lite0": (224, None),
    "efficientnet_lite2": (384, None),
    "resnet50": (224, "random"),
}
RUNTIMES = ("torch", "torch-channels-last", "onnx")
DEFAULT_BACKBONE = "efficientnet_lite2"


def matmul_gflops(threads: int, n: int, repeats: int) -> dict:
    """Dense fp32 square matmul rate: 2 n^3 FLOPs per product."""
    import torch

    torch.set_num_threads(threads)
    a, b = torch.randn(n, n), torch.randn(n, n)
    t_torch = time_calls(lambda: torch.mm(a, b), repeats, warmup=1)
    an, bn = a.numpy(), b.numpy()
    t_np = time_calls(lambda: an @ bn, repeats, warmup=1)  # numpy's BLAS, its own thread count
    flops = 2.0 * n ** 3
    # median = typical rate now; best = the machine's limit when least disturbed by other processes
    return {"n": n, "torch_gflops": flops / median(t_torch) / 1e9, "torch_best_gflops": flops / min(t_torch) / 1e9,
            "numpy_gflops": flops / median(t_np) / 1e9, "numpy_best_gflops": flops / min(t_np) / 1e9}


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


def bench_engine(engine, size: int, batch: int, repeats: int, budget_s: float = 30.0) -> float:
    """Images/s: median of up to ``repeats`` timed calls after one warm-up call; slow configurations get
    fewer calls so that each stays within about ``budget_s`` (at least one timed call)."""
    x = np.random.default_rng(0).standard_normal((batch, 3, size, size)).astype(np.float32)
    first = time_calls(lambda: engine(x), 1, warmup=0)[0]
    n = max(1, min(repeats, int(budget_s / max(first, 1e-9))))
    return batch / median(time_calls(lambda: engine(x), n, warmup=0))


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
    args = ap.parse_args(argv)

    import torch

    from mammokit.constants import DEFAULT_CACHE_DIR
    from mammokit.features._engine import load_backbone
    from mammokit.features._onnx import default_threads

    threads = args.threads or default_threads()
    torch.set_num_threads(threads)
    sizes = {k: v for k, v in BACKBONES.items() if k in args.backbones}
    batches, repeats, mm_n = args.batches, args.repeats, 2048
    if args.quick:
        sizes, batches, repeats, mm_n = {"efficientnet_lite0": (64, None)}, [1, 2], 1, 512
    cache = args.cache or (Path(tempfile.mkdtemp(prefix="mk-bench-")) if args.quick else DEFAULT_CACHE_DIR)

    info = machine()
    print(f"machine: {info['cpu']}, {info['cores']} cores, load {info['load_avg_1m']}, threads {threads}, "
          f"commit {info['commit']}", flush=True)
    mm_before = matmul_gflops(threads, mm_n, repeats + 2)
    print(f"matmul before: torch {mm_before['torch_gflops']:.1f} GFLOP/s, numpy {mm_before['numpy_gflops']:.1f}",
          flush=True)

    rows = []
    for name, (size, weights) in sizes.items():
        module = load_backbone(name, weights, size).module
        flops = model_flops(module, size)
        for runtime in RUNTIMES:
            engine = make_engine(runtime, name, size, weights, threads, cache)
            # matmul measured right next to each runtime's runs: the fraction compares like with like
            # even when other processes' load drifts during the benchmark
            local = matmul_gflops(threads, mm_n, repeats)["torch_gflops"]
            for batch in batches:
                ips = bench_engine(engine, size, batch, repeats, args.budget)
                rows.append({"backbone": name, "size": size, "runtime": runtime, "batch": batch,
                             "images_per_s": ips, "gflop_per_image": flops / 1e9,
                             "achieved_gflops": flops * ips / 1e9, "matmul_gflops_adjacent": local})
                print(f"  {name}@{size} {runtime:<20} batch {batch:>2}: {ips:7.2f} img/s "
                      f"(matmul {local:.1f} GFLOP/s)", flush=True)
            del engine

    # Thread settings for the project's default backbone (or the quick one) at batch 8.
    set_name = DEFAULT_BACKBONE if DEFAULT_BACKBONE in sizes else next(iter(sizes))
    set_size, set_w = sizes[set_name]
    set_batch = 8 if 8 in batches else batches[-1]
    settings = []
    grid = [("onnx", threads, False), ("onnx", threads, True), ("onnx", 1, False), ("torch", threads, False),
            ("torch", 1, False)]
    for runtime, n_threads, spinning in grid[:1] if args.quick else grid:
        torch.set_num_threads(n_threads)
        eng = make_engine(runtime, set_name, set_size, set_w, n_threads, cache, spinning=spinning)
        ips = bench_engine(eng, set_size, set_batch, repeats, args.budget)
        settings.append({"backbone": set_name, "size": set_size, "batch": set_batch, "runtime": runtime,
                         "threads": n_threads, "spinning": spinning if runtime == "onnx" else None,
                         "images_per_s": ips})
        print(f"  settings {runtime} threads={n_threads} spinning={spinning}: {ips:.2f} img/s", flush=True)
    torch.set_num_threads(threads)

    mm_after = matmul_gflops(threads, mm_n, repeats + 2)
    print(f"matmul after: torch {mm_after['torch_gflops']:.1f} GFLOP/s, numpy {mm_after['numpy_gflops']:.1f}")
    # The machine's limit: the best torch.mm rate seen in the whole run (conservative: a quiet moment).
    peak = max([mm_before["torch_best_gflops"], mm_after["torch_best_gflops"]]
               + [r["matmul_gflops_adjacent"] for r in rows])
    for r in rows:
        r["fraction_of_matmul"] = r["achieved_gflops"] / peak
        r["fraction_of_adjacent_matmul"] = r["achieved_gflops"] / r["matmul_gflops_adjacent"]
    best = {}
    for r in rows:
        if r["backbone"] not in best or r["images_per_s"] > best[r["backbone"]]["images_per_s"]:
            best[r["backbone"]] = r

    cols = [("backbone", "backbone"), ("size", "px"), ("runtime", "runtime"), ("batch", "batch"),
            ("images_per_s", "images/s"), ("gflop_per_image", "GFLOP/img"), ("achieved_gflops", "GFLOP/s"),
            ("fraction_of_matmul", "of best matmul"), ("fraction_of_adjacent_matmul", "of adjacent matmul")]
    md = [
        (f"Machine: {info['cpu']}, {info['cores']} cores; {info['date_utc']} UTC; commit {info['commit']}; "
        f"load average at start {info['load_avg_1m']}; {threads} threads; medians of up to {repeats} timed calls after a warm-up (fewer where they would exceed {args.budget:.0f} s)."),
        "",
        (f"Dense fp32 matmul ({mm_n}x{mm_n}), median (best) GFLOP/s before / after the models: "
        f"torch {mm_before['torch_gflops']:.1f} ({mm_before['torch_best_gflops']:.1f}) / "
        f"{mm_after['torch_gflops']:.1f} ({mm_after['torch_best_gflops']:.1f}); numpy "
        f"{mm_before['numpy_gflops']:.1f} ({mm_before['numpy_best_gflops']:.1f}) / {mm_after['numpy_gflops']:.1f} "
        f"({mm_after['numpy_best_gflops']:.1f}). \"of best matmul\" divides by the best torch.mm rate of the run, "
        f"{peak:.1f} GFLOP/s; \"of adjacent matmul\" by the median torch.mm rate measured just before that runtime's "
        f"runs (same load)."),
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
               "matmul": {"before": mm_before, "after": mm_after, "reference_gflops": peak},
               "rows": rows, "best": best, "settings": settings}
    out = args.out or (None if args.quick else RESULTS / "throughput.json")
    if out:
        write_json(out, payload)
        write_markdown(out.with_suffix(".md"), text)
        print(f"\nwrote {out} and {out.with_suffix('.md')}")
    return payload


if __name__ == "__main__":
    main()
