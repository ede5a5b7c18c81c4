"""How long mammokit.io.read_image takes on real mini-MIAS files (PNG copies and PGM originals).

Moved here from the unit tests (issue 10): a time limit in a test fails on a busy machine and passes on a
broken one, so the suite checks what is read and this script reports how fast.

    python benchmarks/image_read.py                  # median ms per read, printed as a table
    python benchmarks/image_read.py --out benchmarks/results/image_read.json

Read + preprocess (issue 15): ``--profile`` prints where the time of ``read_image`` + ``preprocess`` goes
(cProfile, ms per image, on every 10th MIAS image as in benchmarks/pipeline.py); ``--against REV`` times
the same two calls of git revision REV (its ``src/mammokit`` from ``git archive``, imported as another
package in this process) against the working tree, alternating image by image so outside load hits both
alike, and checks that both give bit-identical tensors, views, geometry and mask fractions.

    python benchmarks/image_read.py --profile --against 6684bb4 --out benchmarks/results/read_preprocess.json
"""
from __future__ import annotations

import argparse
import cProfile
import importlib
import os
import pstats
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, machine, median, save_results, table, time_calls

from mammokit.constants import default_mias_dir
from mammokit.io import read_image


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=5, help="how many MIAS images of each format (mdb001...)")
    ap.add_argument("--repeats", type=int, default=7, help="timed reads per file, after one untimed")
    ap.add_argument("--out", type=Path, default=None, help="write JSON here and a Markdown table beside it")
    ap.add_argument("--profile", action="store_true", help="cProfile of read_image + preprocess, ms per image")
    ap.add_argument("--against", metavar="REV", help="time read + preprocess of git revision REV against this tree")
    ap.add_argument("--pipeline-images", type=int, default=32, help="MIAS images for --profile / --against")
    args = ap.parse_args(argv)
    if args.profile or args.against:
        return read_preprocess(args)
    mias = default_mias_dir()
    if mias is None:
        ap.error("mini-MIAS not found: expected ../shared/data/mini-mias beside the checkout")
    files = {"png": [mias / "images" / f"mdb{i:03d}.png" for i in range(1, args.images + 1)],
             "pgm": [mias / "pgm-originals" / f"mdb{i:03d}.pgm" for i in range(1, args.images + 1)]}
    rows = []
    for fmt, paths in files.items():
        per_file = [median(time_calls(lambda p=p: read_image(p), args.repeats)) for p in paths if p.is_file()]
        if per_file:
            rows.append({"format": fmt, "files": len(per_file), "median_ms": 1000 * median(per_file),
                         "worst_file_ms": 1000 * max(per_file), "shape": "x".join(map(str, read_image(paths[0]).shape))})
    text = table(rows, [("format", "format"), ("files", "files"), ("shape", "pixels"),
                        ("median_ms", "median ms / read"), ("worst_file_ms", "slowest file, ms")],
                 title="read_image on mini-MIAS (float32 [0, 1] pixels)")
    print(text)
    payload = {"machine": machine(), "repeats": args.repeats, "rows": rows}
    save_results(args.out, payload, text)
    return payload


def _pipeline_paths(n: int) -> list[Path]:
    from mammokit.datasets import load_dataset

    records = load_dataset("mias")
    return [Path(r.path) for r in records[:: max(1, len(records) // n)][:n]]  # as benchmarks/pipeline.py


def _profile(paths: list[Path], rounds: int = 3) -> list[dict]:
    """Functions of read_image + preprocess by own time, ms per image (the top 12)."""
    from mammokit.preprocess import PreprocessConfig, preprocess

    cfg = PreprocessConfig()
    for p in paths[:2]:
        preprocess(read_image(p), cfg)
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(rounds):
        for p in paths:
            preprocess(read_image(p), cfg)
    prof.disable()
    stats = pstats.Stats(prof).stats  # {(file, line, name): (calls, primitive calls, tottime, cumtime, callers)}
    n = rounds * len(paths)
    total = sum(v[2] for v in stats.values())
    rows = []
    for (file, line, name), (_, _, tottime, cumtime, _) in sorted(stats.items(), key=lambda kv: -kv[1][2])[:12]:
        # C functions come as "<name>", which Markdown would take for an HTML tag: name them in backticks
        where = f"`{name.strip('<>')}`" if file == "~" else f"{Path(file).parent.name}/{Path(file).name}:{line} {name}"
        rows.append({"function": where.replace("|", "/"), "own_ms": 1000 * tottime / n,
                     "share": tottime / total, "cumulative_ms": 1000 * cumtime / n})
    return rows


def _revision_package(rev: str, into: Path):
    """``src/mammokit`` of git revision ``rev`` as the package ``mammokit_rev`` (relative imports only)."""
    tar = into / "src.tar"
    with tar.open("wb") as fh:
        subprocess.run(["git", "archive", rev, "src/mammokit"], cwd=REPO, stdout=fh, check=True)
    with tarfile.open(tar) as tf:
        tf.extractall(into, filter="data")
    (into / "src" / "mammokit").rename(into / "mammokit_rev")
    sys.path.insert(0, str(into))
    return importlib.import_module("mammokit_rev.io"), importlib.import_module("mammokit_rev.preprocess")


def _against(paths: list[Path], rev: str, repeats: int) -> dict:
    from mammokit.preprocess import PreprocessConfig, preprocess

    with tempfile.TemporaryDirectory(prefix="mk-rev-") as tmp:
        old_io, old_pre = _revision_package(rev, Path(tmp))
        cfg, old_cfg = PreprocessConfig(), old_pre.PreprocessConfig()
        for p in paths:  # the same outputs, bit for bit, before anything is timed
            a, b = old_pre.preprocess(old_io.read_image(p), old_cfg), preprocess(read_image(p), cfg)
            assert np.array_equal(a.tensor, b.tensor) and np.array_equal(a.view, b.view), p
            assert a.geometry.as_dict() == b.geometry.as_dict() and a.mask_fraction == b.mask_fraction, p
        t = {k: [] for k in ("old_read", "old_pre", "new_read", "new_pre")}
        loads = []
        for _ in range(repeats):
            loads.append(os.getloadavg()[0])
            acc = dict.fromkeys(t, 0.0)
            for p in paths:  # alternating image by image
                t0 = time.perf_counter()
                im = old_io.read_image(p)
                t1 = time.perf_counter()
                old_pre.preprocess(im, old_cfg)
                t2 = time.perf_counter()
                im = read_image(p)
                t3 = time.perf_counter()
                preprocess(im, cfg)
                t4 = time.perf_counter()
                acc["old_read"] += t1 - t0
                acc["old_pre"] += t2 - t1
                acc["new_read"] += t3 - t2
                acc["new_pre"] += t4 - t3
            for k, v in acc.items():
                t[k].append(v)
    n = len(paths)
    old_total = [a + b for a, b in zip(t["old_read"], t["old_pre"])]
    new_total = [a + b for a, b in zip(t["new_read"], t["new_pre"])]
    row = {"images": n, "repeats": repeats, "rev": rev, "identical": True, "load_median": median(loads),
           **{f"{k}_ms": 1000 * median(v) / n for k, v in t.items()},
           "old_total_ms": 1000 * median(old_total) / n, "new_total_ms": 1000 * median(new_total) / n,
           "paired_ratio": median([a / b for a, b in zip(old_total, new_total)])}
    return row


def read_preprocess(args) -> dict:
    paths = _pipeline_paths(args.pipeline_images)
    info = machine()
    md = [(f"Machine: {info['cpu']}, {info['cores']} cores; {info['date_utc']} UTC; commit {info['commit']}; "
           f"load average at start {info['load_avg_1m']}.")]
    payload: dict = {"machine": info}
    if args.profile:
        rows = _profile(paths)
        payload["profile"] = rows
        md += ["", table(rows, [("function", "function"), ("own_ms", "own ms / image"), ("share", "share"),
                                ("cumulative_ms", "cumulative ms / image")],
                         f"read_image + preprocess (384 px), cProfile over {len(paths)} MIAS images x 3, top 12 by own time")]
    if args.against:
        row = _against(paths, args.against, args.repeats)
        payload["against"] = row
        md += ["", table([row], [("images", "images"), ("rev", "before"), ("old_read_ms", "read ms, before"),
                                 ("old_pre_ms", "preprocess ms, before"), ("new_read_ms", "read ms, now"),
                                 ("new_pre_ms", "preprocess ms, now"), ("old_total_ms", "total ms, before"),
                                 ("new_total_ms", "total ms, now"), ("paired_ratio", "before / now (paired)"),
                                 ("identical", "outputs bit-identical"), ("load_median", "load (median)")],
                         f"read + preprocess per MIAS image, before vs now (medians of {args.repeats}, alternating)")]
    text = "\n".join(md)
    print(text)
    save_results(args.out, payload, text)
    return payload


if __name__ == "__main__":
    main()
