"""Copy the latest benchmark tables into docs/performance.md (between the marked comments), so every
figure in the document comes from a script run:

    python benchmarks/throughput.py && python benchmarks/pipeline.py && python benchmarks/update_docs.py

Sections are replaced between ``<!-- name:begin -->`` and ``<!-- name:end -->``; text outside them is kept.
A results file that does not exist yet leaves its section as it is (e.g. web_latency before helper D's script ran).
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, RESULTS

DOC = REPO / "docs" / "performance.md"


def _targets(tp: dict | None, pl: dict | None) -> str:
    """The issue's three targets against the figures of the latest runs."""
    rows = ["| target | measured | met |", "|---|---|---|"]
    if pl:
        a = pl["naive_vs_ours"]
        rows.append(f"| ours >= 2x the naive one-image loop (same {a['images']} MIAS images, {a['backbone']} @ "
                    f"{a['size']} px): ratio of median times (median of the per-repeat ratios) | {a['speedup']:.1f}x "
                    f"({a['speedup_paired_median']:.1f}x; load average {pl['machine']['load_avg_1m']} at the start: "
                    f"under load the default naive loop's PyTorch threads stall, see the conclusions) | "
                    f"{'yes' if a['speedup'] >= 2 else 'NO'} |")
        v, vp = a["speedup_vs_naive_1thread"], a["speedup_vs_naive_1thread_paired_median"]
        rows.append(f"| (the same, naive loop tuned to 1 PyTorch thread) | {v:.1f}x ({vp:.1f}x) | "
                    f"{'yes' if v >= 2 else 'NO'} |")
    if tp:
        for name, b in tp["best"].items():
            f = b["fraction_of_matmul"]
            rows.append(f"| best configuration >= 60% of measured matmul GFLOP/s: {name} @ {b['size']} px "
                        f"({b['runtime']}, batch {b['batch']}) | {100 * f:.0f}% of the run's best matmul, "
                        f"{tp['matmul']['reference_gflops']:.1f} GFLOP/s ({100 * b['fraction_of_adjacent_matmul']:.0f}%"
                        f" of the matmul measured in the same process) | {'yes' if f >= 0.6 else 'NO'} |")
    if pl and pl.get("summary"):
        s = pl["summary"]
        rows.append(f"| cached re-run >= 50x faster than cold (extraction time, all MIAS) | "
                    f"{s['cold_features_over_cached_extract']:.0f}x ({s['cold_over_cached_extract']:.0f}x counting the "
                    f"one-time ONNX export) | {'yes' if s['cold_features_over_cached_extract'] >= 50 else 'NO'} |")
        rows.append(f"| (whole `mammokit features` command, wall time incl. Python start-up) | "
                    f"{s['cold_features_over_cached_wall']:.1f}x | - |")
    return "\n".join(rows)


def _load(name: str) -> dict | None:
    p = RESULTS / f"{name}.json"
    return json.loads(p.read_text()) if p.is_file() else None


def replace_section(text: str, name: str, body: str) -> str:
    pat = re.compile(rf"(<!-- {name}:begin -->\n).*?(<!-- {name}:end -->)", re.DOTALL)
    if not pat.search(text):
        raise SystemExit(f"{DOC}: markers for section {name!r} not found")
    return pat.sub(lambda m: m.group(1) + body.rstrip() + "\n" + m.group(2), text)


def main() -> None:
    text = DOC.read_text()
    tp, pl = _load("throughput"), _load("pipeline")
    text = replace_section(text, "targets", _targets(tp, pl))
    for name in ("throughput", "pipeline", "web_latency", "batch_predict", "preprocess_paths"):
        md = RESULTS / f"{name}.md"
        if md.is_file():
            text = replace_section(text, name, md.read_text()) if f"<!-- {name}:begin -->" in text else text
    DOC.write_text(text)
    print(f"updated {DOC}")
    scaling, md = REPO / "docs" / "scaling.md", RESULTS / "ray_scaling.md"  # the Ray figures (issue 15)
    if scaling.is_file() and md.is_file() and "<!-- ray_scaling:begin -->" in scaling.read_text():
        scaling.write_text(replace_section(scaling.read_text(), "ray_scaling", md.read_text()))
        print(f"updated {scaling}")


if __name__ == "__main__":
    main()
