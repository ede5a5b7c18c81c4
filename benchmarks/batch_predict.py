"""Batch prediction vs feature extraction on the same images, side by side in one process (issue 15, part 2).

For the whole-image bundle (default: the one `make demo` writes, runs/mias-cv/bundle) the two alternate,
repeat by repeat, over the same MIAS images: ``extract_features`` with the project defaults from an empty
feature cache (what `mammokit features` does cold), then ``predict_records`` (what `mammokit predict --out`
does) into a new CSV. Both use the same warm engine (the ONNX export and session are built before the clock),
so the ratio compares the two paths, not start-up. Target: predict >= 80% of features' images/s.

With ``--lesion-bundle`` the lesion bundle's batch rate is measured on the same images too (its own
multi-scale maps, image by image; the input sizes are the bundle's).

    python benchmarks/batch_predict.py                       # 322 images, 3 repeats
    python benchmarks/batch_predict.py --lesion-bundle /tmp/run/bundle --update-docs
    python benchmarks/batch_predict.py --images 16 --repeats 1   # smoke
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
from _common import REPO, RESULTS, machine, median, save_results, table


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bundle", type=Path, default=REPO / "runs" / "mias-cv" / "bundle")
    ap.add_argument("--lesion-bundle", type=Path, default=None)
    ap.add_argument("--images", type=int, default=322)
    ap.add_argument("--lesion-images", type=int, default=64, help="images for the lesion bundle's rate")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=None, help="JSON (default benchmarks/results/batch_predict.json)")
    ap.add_argument("--update-docs", action="store_true", help="copy the table into docs/performance.md")
    args = ap.parse_args(argv)

    from mammokit.bundle import load_bundle, predict_records
    from mammokit.datasets import load_dataset
    from mammokit.features import extract_features

    records = load_dataset("mias")[: args.images]
    predictor = load_bundle(args.bundle)
    m = predictor.manifest
    backbone, weights, pre = m["backbone"]["name"], m["backbone"].get("weights"), predictor.preprocess_config
    info = machine()
    print(f"machine: {info['cpu']}, {info['cores']} cores, load {info['load_avg_1m']}, commit {info['commit']}",
          flush=True)
    work = Path(tempfile.mkdtemp(prefix="mk-batch-"))
    loads, feat_s, pred_s = [], [], []
    try:
        warm = work / "cache"
        # build the engine and the ONNX export before the clock (both paths then share the warm session)
        extract_features(records[:2], backbone=backbone, weights=weights, preprocess=pre, cache_dir=warm,
                         progress=False)
        predict_records(predictor, records[:2], work / "warm.csv", cache_dir=warm, progress=False)
        for rep in range(args.repeats):
            loads.append(os.getloadavg()[0])
            shutil.rmtree(warm / "features", ignore_errors=True)  # features from an empty cache every time
            t0 = time.perf_counter()
            fs = extract_features(records, backbone=backbone, weights=weights, preprocess=pre, cache_dir=warm,
                                  progress=False)
            feat_s.append(time.perf_counter() - t0)
            assert fs.stats["computed"] == len(records)
            t0 = time.perf_counter()
            s = predict_records(predictor, records, work / f"rep{rep}.csv", cache_dir=warm, progress=False)
            pred_s.append(time.perf_counter() - t0)
            assert s.computed == len(records) and not s.failed
            print(f"  repeat {rep + 1}: features {len(records) / feat_s[-1]:.1f} img/s, "
                  f"predict {len(records) / pred_s[-1]:.1f} img/s (load {loads[-1]:.1f})", flush=True)
        lesion = None
        if args.lesion_bundle:
            lp = load_bundle(args.lesion_bundle)
            sub = records[: args.lesion_images]
            predict_records(lp, sub[:1], work / "lwarm.csv", progress=False)  # engines built before the clock
            lesion_s = []
            for rep in range(args.repeats):
                t0 = time.perf_counter()
                s = predict_records(lp, sub, work / f"lesion{rep}.csv", progress=False)
                lesion_s.append(time.perf_counter() - t0)
                print(f"  lesion repeat {rep + 1}: {len(sub) / lesion_s[-1]:.2f} img/s", flush=True)
            st = lp.model.settings
            lesion = {"images": len(sub), "sizes": list(lp.model.sizes_used or st.sizes), "backbone": st.backbone,
                      "seconds": median(lesion_s), "images_per_s": len(sub) / median(lesion_s)}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    n = len(records)
    ratios = [f / p for f, p in zip(feat_s, pred_s)]  # predict rate / features rate, same repeat
    row = {"images": n, "backbone": backbone, "size": pre.size, "repeats": args.repeats,
           "features_images_per_s": n / median(feat_s), "predict_images_per_s": n / median(pred_s),
           "ratio_of_medians": median(feat_s) / median(pred_s), "ratio_paired_median": median(ratios),
           "ratio_min": min(ratios), "load_avg_median": median(loads), "met": median(ratios) >= 0.8}
    md = [(f"Machine: {info['cpu']}, {info['cores']} cores; {info['date_utc']} UTC; commit {info['commit']}; "
          f"load average at start {info['load_avg_1m']} (median over the repeats {row['load_avg_median']:.1f})."),
          "",
          table([row], [("images", "images"), ("backbone", "backbone"), ("size", "px"),
                        ("features_images_per_s", "features img/s"), ("predict_images_per_s", "predict img/s"),
                        ("ratio_paired_median", "predict / features (paired median)"),
                        ("ratio_of_medians", "ratio of medians"), ("ratio_min", "worst repeat"),
                        ("met", ">= 80%")],
                f"Batch predict vs features, same MIAS images (medians of {args.repeats} alternating repeats; "
                "both cold, same warm ONNX Runtime session)")]
    if lesion:
        md += ["", table([lesion], [("images", "images"), ("backbone", "backbone"), ("sizes", "input sizes"),
                                    ("seconds", "s"), ("images_per_s", "img/s")],
                         f"Lesion bundle, batch predict (median of {args.repeats})")]
    text = "\n".join(md)
    print("\n" + text)
    save_results(args.out or RESULTS / "batch_predict.json",
                 {"machine": info, "whole_image": row, "per_repeat_seconds": {"features": feat_s, "predict": pred_s},
                  "loads": loads, "lesion": lesion}, text)
    if args.update_docs:
        from update_docs import main as update

        update()
    return row


if __name__ == "__main__":
    main()
