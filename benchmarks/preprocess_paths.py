"""Read + preprocess: the old Pillow/scipy path against the current OpenCV one, same images, same process.

The old path is the reference code kept in tests/test_preprocess_fast.py (Pillow decode, scipy.ndimage mask,
three-channel normalisation); both produce bit-identical tensors (asserted here on every image too). The two
alternate image by image, so load from other jobs hits both alike.

    python benchmarks/preprocess_paths.py            # 32 MIAS images, 5 repeats
"""
from __future__ import annotations

import argparse
import io
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from _common import RESULTS, machine, median, save_results, table


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--size", type=int, default=384)
    ap.add_argument("--out", type=Path, default=None, help="JSON (default benchmarks/results/preprocess_paths.json)")
    args = ap.parse_args(argv)

    from PIL import Image as PILImage

    from mammokit.datasets import load_dataset
    from mammokit.io import read_image
    from mammokit.preprocess import PreprocessConfig, preprocess
    from test_preprocess_fast import _old_preprocess_tensor

    records = load_dataset("mias")
    paths = [r.path for r in records[:: max(1, len(records) // args.images)][: args.images]]
    cfg = PreprocessConfig(size=args.size)

    def old(p):
        arr = np.asarray(PILImage.open(io.BytesIO(Path(p).read_bytes())))
        pixels = arr.astype(np.float32)
        pixels /= np.float32(255)
        return _old_preprocess_tensor(pixels, cfg.size, cfg.mode)

    def new(p):
        return preprocess(read_image(p), cfg).tensor

    info = machine()
    old_s, new_s, loads = [], [], []
    for p in paths[:2]:
        assert np.array_equal(old(p), new(p))
    for _ in range(args.repeats):
        loads.append(os.getloadavg()[0])
        to = tn = 0.0
        for p in paths:
            t0 = time.perf_counter()
            a = old(p)
            t1 = time.perf_counter()
            b = new(p)
            t2 = time.perf_counter()
            to, tn = to + t1 - t0, tn + t2 - t1
            assert np.array_equal(a, b), p
        old_s.append(to)
        new_s.append(tn)
        print(f"  old {to:.2f} s, new {tn:.2f} s (load {loads[-1]:.1f})", flush=True)
    n = len(paths)
    row = {"images": n, "old_ms_per_image": 1000 * median(old_s) / n, "new_ms_per_image": 1000 * median(new_s) / n,
           "speedup": median(old_s) / median(new_s),
           "speedup_paired_median": median([a / b for a, b in zip(old_s, new_s)]), "identical": True}
    text = "\n".join([
        (f"Machine: {info['cpu']}, {info['cores']} cores; {info['date_utc']} UTC; commit {info['commit']}; "
         f"load average at start {info['load_avg_1m']} (median over the repeats {median(loads):.1f})."),
        "",
        table([row], [("images", "images"), ("old_ms_per_image", "old path ms/img"),
                      ("new_ms_per_image", "new path ms/img"), ("speedup", "old / new"),
                      ("speedup_paired_median", "paired"), ("identical", "tensors bit-identical")],
              f"Read + preprocess of MIAS PNGs to the {args.size}-px tensor (medians of {args.repeats})"),
    ])
    print("\n" + text)
    save_results(args.out or RESULTS / "preprocess_paths.json", {"machine": info, "row": row, "old_s": old_s,
                                                                 "new_s": new_s, "loads": loads}, text)
    return row


if __name__ == "__main__":
    main()
