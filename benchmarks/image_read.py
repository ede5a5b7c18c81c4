"""How long mammokit.io.read_image takes on real mini-MIAS files (PNG copies and PGM originals).

Moved here from the unit tests (issue 10): a time limit in a test fails on a busy machine and passes on a
broken one, so the suite checks what is read and this script reports how fast.

    python benchmarks/image_read.py                  # median ms per read, printed as a table
    python benchmarks/image_read.py --out benchmarks/results/image_read.json
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, median, save_results, table, time_calls

from mammokit.constants import default_mias_dir
from mammokit.io import read_image


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=5, help="how many MIAS images of each format (mdb001...)")
    ap.add_argument("--repeats", type=int, default=7, help="timed reads per file, after one untimed")
    ap.add_argument("--out", type=Path, default=None, help="write JSON here and a Markdown table beside it")
    args = ap.parse_args(argv)
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


if __name__ == "__main__":
    main()
