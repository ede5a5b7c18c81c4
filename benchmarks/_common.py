"""Shared helpers for the benchmark scripts: machine description, timing, tables, JSON output."""
from __future__ import annotations

import datetime as _dt
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from mammokit._json import strict_dumps
from mammokit._provenance import git_commit

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"


def machine() -> dict:
    """What ran the benchmark: CPU model and cores (lscpu), load, date, git commit, library versions."""
    model = platform.processor() or platform.machine()
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10, check=False).stdout.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except (OSError, subprocess.SubprocessError):
        pass
    full = git_commit() or "unknown"  # the project's one git lookup; "+dirty" when tracked files differ
    commit, dirty = full.split("+")[0][:7], full.endswith("+dirty")
    from importlib.metadata import version

    versions = {}
    for pkg in ("torch", "onnxruntime", "numpy"):
        try:
            versions[pkg] = version(pkg)
        except Exception:  # noqa: BLE001 - a missing package is reported as None
            versions[pkg] = None
    return {
        "cpu": model, "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2), "date_utc": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M"),
        "commit": commit + ("+dirty" if dirty else ""), "python": platform.python_version(), **versions,
    }


def time_calls(fn: Callable[[], object], repeats: int, warmup: int = 1) -> list[float]:
    """Wall seconds of ``repeats`` calls after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def median(xs: list[float]) -> float:
    return float(statistics.median(xs))


def table(rows: list[dict], columns: list[tuple[str, str]], title: str | None = None) -> str:
    """A GitHub-markdown table (also readable in a terminal). columns: (key, header)."""
    def fmt(v):
        if isinstance(v, float):
            return f"{v:.3g}" if abs(v) < 100 else f"{v:.0f}"
        return "" if v is None else str(v)

    lines = [f"**{title}**", ""] if title else []
    lines.append("| " + " | ".join(h for _, h in columns) + " |")
    lines.append("|" + "|".join("---" for _ in columns) + "|")
    for r in rows:
        lines.append("| " + " | ".join(fmt(r.get(k)) for k, _ in columns) + " |")
    return "\n".join(lines)


def write_json(path: Path, payload: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(strict_dumps(payload, indent=2, sort_keys=False) + "\n")
    os.replace(tmp, path)
    return path


def write_markdown(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text.rstrip() + "\n")
    return path


def save_results(out: Path | None, payload: dict, text: str) -> None:
    """Write a benchmark's JSON and its Markdown table side by side (nothing for --quick runs without --out)."""
    if out:
        write_json(out, payload)
        write_markdown(out.with_suffix(".md"), text)
        print(f"\nwrote {out} and {out.with_suffix('.md')}")
