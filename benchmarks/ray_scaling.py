"""Feature extraction: the in-process engine against Ray on 1 and 2 nodes (issue 15, part 3).

The Ray clusters are real: ``ray start`` nodes on loopback with 1 CPU each (features/_ray_cluster.py), one
actor per CPU holding its own ONNX Runtime session with 1 thread. Each measurement starts from an empty
feature cache; the local engine runs with its defaults (all cores) and with 1 thread, between the Ray runs,
so load changes hit all of them. Cluster start-up is reported apart and not in the rates.

    python benchmarks/ray_scaling.py                    # 64 MIAS images, efficientnet_lite2 @ 384, 3 repeats
    python benchmarks/ray_scaling.py --images 8 --repeats 1 --backbone efficientnet_lite0 --size 128   # smoke
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, machine, median, save_results, table


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--backbone", default="efficientnet_lite2")
    ap.add_argument("--size", type=int, default=384)
    ap.add_argument("--out", type=Path, default=None, help="JSON (default benchmarks/results/ray_scaling.json)")
    args = ap.parse_args(argv)

    from mammokit.datasets import load_dataset
    from mammokit.features import extract_features
    from mammokit.features._ray_cluster import local_cluster
    from mammokit.preprocess import PreprocessConfig

    records = load_dataset("mias")[: args.images]
    pre = PreprocessConfig(size=args.size)
    info = machine()
    print(f"machine: {info['cpu']}, {info['cores']} cores, load {info['load_avg_1m']}, commit {info['commit']}",
          flush=True)
    work = Path(tempfile.mkdtemp(prefix="mk-ray-bench-"))
    times: dict[str, list[float]] = {"local (all cores)": [], "local (1 thread)": [], "ray, 1 node x 1 CPU": [],
                                     "ray, 2 nodes x 1 CPU": []}
    startup, loads, nodes_seen, per_core = {}, [], {}, {}
    counter = [0]

    def run(label: str, **kw) -> None:
        counter[0] += 1
        cache = work / f"c{counter[0]}"
        (cache / "onnx").parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(work / "warm" / "onnx", cache / "onnx")  # the export is not what is measured
        loads.append(os.getloadavg()[0])
        t0 = time.perf_counter()
        fs = extract_features(records, backbone=args.backbone, preprocess=pre, cache_dir=cache, progress=False, **kw)
        times[label].append(time.perf_counter() - t0)
        assert fs.stats["computed"] == len(records)
        if kw.get("engine") == "ray":
            nodes_seen[label] = len(fs.stats["nodes"])
            per_core.setdefault(label, []).append(len(records) / fs.stats["ray_actor_seconds"])
        print(f"  {label}: {len(records) / times[label][-1]:.2f} img/s (load {loads[-1]:.1f})", flush=True)

    try:
        extract_features(records[:2], backbone=args.backbone, preprocess=pre, cache_dir=work / "warm", progress=False)
        for n in (1, 2):
            t0 = time.perf_counter()
            with local_cluster(nodes=n, cpus_per_node=1, timeout=300) as address:
                startup[n] = time.perf_counter() - t0
                # one untimed pass: the actors' first session start-up is not the steady rate
                extract_features(records[:2], backbone=args.backbone, preprocess=pre, cache_dir=work / "w2",
                                 progress=False, engine="ray", address=address)
                for _ in range(args.repeats):
                    run("local (all cores)")
                    run("local (1 thread)", threads=1)
                    run(f"ray, {n} node{'s' if n > 1 else ''} x 1 CPU", engine="ray", address=address, batch_size=8)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    n_img = len(records)
    rows = [{"engine": k, "runs": len(v), "median_s": median(v), "images_per_s": n_img / median(v),
             "nodes_used": nodes_seen.get(k, 1),
             "per_actor_core_images_per_s": median(per_core[k]) if k in per_core else None}
            for k, v in times.items() if v]
    base = next(r for r in rows if r["engine"] == "local (1 thread)")["images_per_s"]
    for r in rows:
        r["vs_local_1_thread"] = r["images_per_s"] / base
    text = "\n".join([
        (f"Machine: {info['cpu']}, {info['cores']} cores; {info['date_utc']} UTC; commit {info['commit']}; load average "
        f"at start {info['load_avg_1m']} (median over the runs {median(loads):.1f})."),
        "",
        table(rows, [("engine", "engine"), ("runs", "runs"), ("nodes_used", "nodes that computed"),
                     ("median_s", "median s"), ("images_per_s", "img/s"),
                     ("vs_local_1_thread", "vs local 1 thread"),
                     ("per_actor_core_images_per_s", "img/s per busy actor core (Ray)")],
              f"Features for {n_img} MIAS images, {args.backbone} @ {args.size} px, empty cache each run"),
        "",
        "Each Ray run includes connecting and starting its actors (each loads ONNX Runtime and its session); "
        "the last column leaves Ray out: images over the seconds the actors spent reading, preprocessing and "
        "embedding them (each actor: 1 core, 1 model thread). "
        "Cluster start-up (not in the rates): " + ", ".join(f"{n} node(s) {s:.0f} s" for n, s in startup.items()) + ".",
    ])
    print("\n" + text)
    save_results(args.out or RESULTS / "ray_scaling.json",
                 {"machine": info, "rows": rows, "seconds": times, "startup_s": startup, "loads": loads}, text)
    return {"rows": rows}


if __name__ == "__main__":
    main()
