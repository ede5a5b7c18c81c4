"""`mammokit demo` end to end (what `make demo` runs) on a small real mini-MIAS subset: a fresh process with
its own feature cache, the three whole-image protocols, the lesion-aware model, the comparison, and the
served-bundle choice. The full-size figures are in docs/results.md; this checks the wiring a new user runs."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mammokit.constants import RESEARCH_DISCLAIMER

IDS = range(1, 49)  # 24 women, both breasts: normal, benign and malignant images among them


def _mias_subset(mias_dir: Path, dest: Path) -> Path:
    """A mini-MIAS folder in the database's own layout holding only IDS (Info.txt rows kept as written)."""
    keep = {f"mdb{i:03d}" for i in IDS}
    (dest / "images").mkdir(parents=True)
    for ref in keep:
        shutil.copy(mias_dir / "images" / f"{ref}.png", dest / "images")
    lines = (mias_dir / "Info.txt").read_text().splitlines()
    rows = [ln for ln in lines if not ln.startswith("mdb") or ln.split()[0] in keep]
    (dest / "Info.txt").write_text("\n".join(rows) + "\n")
    return dest


@pytest.mark.slow
def test_mammokit_demo_end_to_end(mias_dir, tmp_path):
    data = _mias_subset(mias_dir, tmp_path / "mias")
    out = tmp_path / "runs"
    env = {**os.environ, "MAMMOKIT_CACHE": str(tmp_path / "cache")}  # nothing from a developer's cache
    cmd = [sys.executable, "-c", "from mammokit.cli import main; main()", "demo", "--data", str(data),
           "--out", str(out), "--backbone", "efficientnet_lite0", "--size", "224", "--set", "bootstrap.n=50"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1200, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = proc.stdout
    assert "LEAKY" in text and RESEARCH_DISCLAIMER in text and "Whole image vs lesion-aware" in text

    runs = {name: out / name for name in ("paper-module1", "paper-module2", "mias-cv", "mias-lesion-demo")}
    for name, run in runs.items():
        m = json.loads((run / "metrics.json").read_text())
        assert m["n_images"] == len(IDS), name
        assert (run / "bundle" / "manifest.json").is_file() and (run / "report.html").is_file(), name
        assert m["leaky"] is (name == "paper-module1"), name
    lesion = json.loads((runs["mias-lesion-demo"] / "metrics.json").read_text())
    assert lesion["model"] == "lesion" and lesion["leak_check"]["test_patients_in_training"] == 0
    assert (out / "mias-protocols" / "comparison.md").is_file()

    served = json.loads((out / "served-bundle.json").read_text())
    assert {c["bundle"] for c in served["candidates"]} == {str(r / "bundle") for r in runs.values()}
    leaky = next(c for c in served["candidates"] if c["bundle"].endswith("paper-module1/bundle"))
    assert leaky["eligible"] is False and served["bundle"] != leaky["bundle"]
    if served["bundle"] is not None:  # whatever is served was eligible: not leaky, not near-constant
        chosen = next(c for c in served["candidates"] if c["bundle"] == served["bundle"])
        assert chosen["eligible"] and not chosen["leaky"] and not chosen["near_constant"]
