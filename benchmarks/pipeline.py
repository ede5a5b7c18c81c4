"""Feature pipeline: the naive loop vs ours on the same MIAS images, and cold vs cached runs of the CLI (issue 7).

Part A (one process, alternating repeats): the paper's kind of loop -- one image at a time, PyTorch eager,
no cache, read + preprocess inside the loop -- against ``extract_features`` with the project defaults on the
SAME images, each starting from an empty feature cache. Both models are built before the clock starts.
Reported: median seconds, images/s, the ratio, and the largest difference between the two feature sets.

Part B (the real CLI, one subprocess per run): ``mammokit features`` for all of MIAS with an empty cache
(including the one-time ONNX export), again with only the export cached, then fully cached. Wall time,
the command's own extraction seconds and peak RSS (os.wait4 per child).

    python benchmarks/pipeline.py           # full: 32 images x 3 repeats, then 3 CLI runs over all 322 images
    python benchmarks/pipeline.py --quick   # smoke: 2 images, lite0 at 128 px, a 3-image folder
"""
from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, RESULTS, machine, median, save_results, table


def naive_features(paths, module, cfg, threads: int | None = None) -> np.ndarray:
    """One image at a time, PyTorch eager, no cache: read, preprocess and run the model inside the loop.

    ``threads=None`` keeps PyTorch's default (all cores), as such code does; 1 is the variant tuned for a
    shared machine, where PyTorch's OpenMP threads can stall each other (see docs/performance.md)."""
    import torch

    from mammokit.io import read_image
    from mammokit.preprocess import preprocess

    default = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        return _naive_loop(paths, module, cfg, torch, read_image, preprocess)
    finally:
        torch.set_num_threads(default)


def _naive_loop(paths, module, cfg, torch, read_image, preprocess) -> np.ndarray:
    feats = []
    for p in paths:
        x = torch.from_numpy(preprocess(read_image(p), cfg).tensor)[None]
        with torch.no_grad():
            feats.append(module(x).mean(dim=(2, 3))[0].numpy())
    return np.stack(feats)


def part_a(paths, backbone: str, size: int, repeats: int, workdir: Path) -> dict:
    from mammokit.features import extract_features, load_backbone, load_engine
    from mammokit.features._defaults import DEFAULT_BATCH_SIZE, DEFAULT_RUNTIME, DEFAULT_THREADS
    from mammokit.preprocess import PreprocessConfig

    cfg = PreprocessConfig(size=size)
    module = load_backbone(backbone, None, size).module.eval()  # built before timing, as for ours
    load_engine(backbone, None, size, DEFAULT_RUNTIME, cache_dir=workdir / "warm", threads=DEFAULT_THREADS)
    load_engine(backbone, None, size, DEFAULT_RUNTIME, cache_dir=workdir / "warm", threads=1)
    # one untimed image each: first-call costs (kernel selection, allocations) are not the loop's
    naive_features(paths[:1], module, cfg)
    extract_features(paths[:1], backbone=backbone, preprocess=cfg, cache_dir=workdir / "warm", progress=False)
    from mammokit.io import read_image
    from mammokit.preprocess import preprocess

    naive_s, naive1_s, ours_s, seq_s, one_s, pre_s, diff = [], [], [], [], [], [], 0.0
    for rep in range(repeats):
        # reading + preprocessing alone, one image at a time: work both loops must do, on one core
        t0 = time.perf_counter()
        for p in paths:
            preprocess(read_image(p), cfg)
        pre_s.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        ref = naive_features(paths, module, cfg)
        naive_s.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        naive_features(paths, module, cfg, threads=1)
        naive1_s.append(time.perf_counter() - t0)
        # ours with the defaults, without the decode thread, and with a 1-thread model session
        for variant, times, opts in (("default", ours_s, {}), ("nodecode", seq_s, {"decode_thread": False}),
                                     ("onethread", one_s, {"threads": 1})):
            t0 = time.perf_counter()
            fs = extract_features(paths, backbone=backbone, preprocess=cfg, progress=False,
                                  cache_dir=workdir / f"rep{rep}-{variant}", **opts)
            times.append(time.perf_counter() - t0)
            assert fs.stats["computed"] == len(paths)  # nothing came from a cache
            diff = max(diff, float(np.abs(ref - fs.X).max()))
        print(f"  repeat {rep + 1}: naive {naive_s[-1]:.2f} s (1 thread {naive1_s[-1]:.2f} s), ours {ours_s[-1]:.2f} s "
              f"(without the decode thread {seq_s[-1]:.2f} s, 1 model thread {one_s[-1]:.2f} s)", flush=True)
    n = len(paths)
    return {
        "images": n, "backbone": backbone, "size": size, "repeats": repeats,
        "ours_runtime": DEFAULT_RUNTIME, "ours_batch_size": DEFAULT_BATCH_SIZE, "ours_threads": DEFAULT_THREADS,
        "naive_seconds": median(naive_s), "ours_seconds": median(ours_s),
        "naive_images_per_s": n / median(naive_s), "ours_images_per_s": n / median(ours_s),
        "ours_no_decode_thread_seconds": median(seq_s),
        "ours_1thread_seconds": median(one_s),
        "read_preprocess_seconds": median(pre_s),
        "decode_thread_gain": median(seq_s) / median(ours_s),
        "speedup": median(naive_s) / median(ours_s),
        # paired: naive and ours of the same repeat ran back to back under the same outside load
        "speedup_paired_median": median([a / b for a, b in zip(naive_s, ours_s)]),
        "speedup_vs_naive_1thread_paired_median": median([a / b for a, b in zip(naive1_s, ours_s)]),
        "naive_1thread_seconds": median(naive1_s),
        "speedup_vs_naive_1thread": median(naive1_s) / median(ours_s),
        "speedup_per_repeat": [a / b for a, b in zip(naive_s, ours_s)],
        "max_abs_feature_diff": diff,
    }


# The child reports its own peak resident memory (VmHWM of the exec'd process). ru_maxrss from wait4 would
# not do: Linux carries the forking parent's high-water mark (torch loaded) across exec.
_CHILD = """
import atexit, sys
def _peak():
    for line in open('/proc/self/status'):
        if line.startswith('VmHWM'):
            print('PEAK_RSS_KB', line.split()[1], file=sys.stderr)
atexit.register(_peak)
from mammokit.cli import main
main()
"""


def run_cli(args: list[str]) -> dict:
    """One `mammokit features` run in a child process: wall seconds, its printed stats, its own peak RSS."""
    cmd = [sys.executable, "-c", _CHILD, "features", *args]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=env, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode:
        raise SystemExit(f"mammokit features failed ({proc.returncode}): {proc.stderr[-2000:]}")
    m = dict(re.findall(r"(\w+)=([\d.]+)", proc.stdout.strip().splitlines()[-1]))
    peak = re.search(r"PEAK_RSS_KB (\d+)", proc.stderr)
    return {"wall_s": wall, "extract_s": float(m["seconds"]), "images": int(m["images"]),
            "cache_hits": int(m["cache_hits"]), "peak_rss_mb": int(peak.group(1)) / 1024 if peak else None}


def part_b(data_args: list[str], model_args: list[str], workdir: Path) -> list[dict]:
    cache = workdir / "cli-cache"
    rows = []
    for label, prep in [("cold: empty cache (incl. one-time ONNX export)", None),
                        ("cold: features computed, ONNX export cached", "drop-features"),
                        ("cached re-run", None)]:
        if prep == "drop-features":
            shutil.rmtree(cache / "features", ignore_errors=True)
        r = run_cli([*data_args, *model_args, "--cache", str(cache)])
        rows.append({"run": label, **r})
        print(f"  {label}: wall {r['wall_s']:.2f} s, extraction {r['extract_s']:.2f} s, "
              f"peak RSS {r['peak_rss_mb']:.0f} MB, hits {r['cache_hits']}", flush=True)
    return rows


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke run: 2 images, lite0 at 128 px, a 3-image folder")
    ap.add_argument("--images", type=int, default=32, help="MIAS images for the naive-vs-ours comparison")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--backbone", default="efficientnet_lite2")
    ap.add_argument("--size", type=int, default=384)
    ap.add_argument("--skip-cli", action="store_true", help="only part A")
    ap.add_argument("--out", type=Path, default=None,
                    help="JSON path (default benchmarks/results/pipeline.json; --quick writes only when given)")
    args = ap.parse_args(argv)

    from mammokit.datasets import load_dataset

    records = load_dataset("mias", None)
    n_img, repeats, backbone, size = args.images, args.repeats, args.backbone, args.size
    if args.quick:
        n_img, repeats, backbone, size = 2, 1, "efficientnet_lite0", 128
    # every 10th image: normal, benign and malignant cases, both breasts, spread over the set
    paths = [r.path for r in records[:: max(1, len(records) // n_img)][:n_img]]
    info = machine()
    print(f"machine: {info['cpu']}, {info['cores']} cores, load {info['load_avg_1m']}, commit {info['commit']}",
          flush=True)
    workdir = Path(tempfile.mkdtemp(prefix="mk-pipeline-"))
    try:
        print(f"A: naive vs ours, {len(paths)} MIAS images, {backbone}@{size}", flush=True)
        a = part_a(paths, backbone, size, repeats, workdir)
        a["peak_rss_mb_benchmark_process"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        b = []
        if not args.skip_cli:
            if args.quick:
                folder = workdir / "imgs" / "normal"
                folder.mkdir(parents=True)
                for r in records[:3]:
                    shutil.copy(r.path, folder / Path(r.path).name)
                data_args = ["--dataset", "folder", "--data", str(folder.parent)]
            else:
                data_args = ["--dataset", "mias"]
            print(f"B: `mammokit features {' '.join(data_args)}` cold vs cached", flush=True)
            b = part_b(data_args, ["--backbone", backbone, "--size", str(size)], workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    summary = {}
    if b:
        cached_s = max(b[2]["extract_s"], 0.005)  # the CLI prints 3 decimals
        summary = {"cold_over_cached_extract": b[0]["extract_s"] / cached_s,
                   "cold_features_over_cached_extract": b[1]["extract_s"] / cached_s,
                   "cold_over_cached_wall": b[0]["wall_s"] / b[2]["wall_s"],
                   "cold_features_over_cached_wall": b[1]["wall_s"] / b[2]["wall_s"]}
    md = [
        (f"Machine: {info['cpu']}, {info['cores']} cores; {info['date_utc']} UTC; commit {info['commit']}; "
        f"load average at start {info['load_avg_1m']}."),
        "",
        table([a], [("images", "images"), ("backbone", "backbone"), ("size", "px"), ("naive_seconds", "naive s"),
                    ("ours_seconds", "ours s"), ("naive_images_per_s", "naive img/s"), ("ours_images_per_s", "ours img/s"),
                    ("speedup", "ours / naive"), ("speedup_paired_median", "paired"),
                    ("naive_1thread_seconds", "naive s, torch 1 thread"),
                    ("speedup_vs_naive_1thread", "ours / naive 1 thread"),
                    ("speedup_vs_naive_1thread_paired_median", "paired"),
                    ("ours_no_decode_thread_seconds", "ours s, no decode thread"),
                    ("ours_1thread_seconds", "ours s, 1 model thread"),
                    ("read_preprocess_seconds", "read + preprocess alone s"),
                    ("max_abs_feature_diff", "max abs diff")],
              f"Naive loop vs ours, same MIAS images (medians of {a['repeats']}; ours = {a['ours_runtime']}, "
              f"batch {a['ours_batch_size']}, {a['ours_threads'] or 'all'} model thread(s), decode thread)"),
    ]
    if b:
        md += ["", table(b, [("run", "run"), ("images", "images"), ("wall_s", "wall s"), ("extract_s", "extraction s"),
                             ("cache_hits", "cache hits"), ("peak_rss_mb", "peak RSS MB")],
                         f"`mammokit features` cold vs cached ({backbone} @ {size} px)"),
               "",
               (f"Cold / cached: extraction {summary['cold_over_cached_extract']:.0f}x "
               f"({summary['cold_features_over_cached_extract']:.0f}x with the export cached); "
               f"whole command wall time {summary['cold_over_cached_wall']:.1f}x "
               f"({summary['cold_features_over_cached_wall']:.1f}x).")]
    text = "\n".join(md)
    print("\n" + text)
    payload = {"machine": info, "quick": args.quick, "naive_vs_ours": a, "cli_runs": b, "summary": summary}
    save_results(args.out or (None if args.quick else RESULTS / "pipeline.json"), payload, text)
    return payload


if __name__ == "__main__":
    main()
