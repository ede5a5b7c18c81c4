"""The layer contract in pyproject.toml ([tool.importlinter]) holds: no upward import, no base module that
imports a stage (docs/architecture.md). And the check is real: an upward import planted in a copy fails it."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from mammokit.constants import REPO_ROOT

LINT = Path(sys.executable).with_name("lint-imports")


def _lint(cwd: Path, pythonpath: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    return subprocess.run([str(LINT), "--no-cache"], cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
                          check=False)


def test_the_layer_contract_holds():
    out = _lint(REPO_ROOT, REPO_ROOT / "src")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "Contracts: 2 kept, 0 broken." in out.stdout


def test_an_upward_import_breaks_it(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(REPO_ROOT / "src" / "mammokit", src / "mammokit",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copyfile(REPO_ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    reader = src / "mammokit" / "io" / "_read.py"
    reader.write_text(reader.read_text() + "\n\ndef _upward():\n    from ..bundle import load_bundle  # io -> bundle\n")
    out = _lint(tmp_path, src)
    assert out.returncode != 0
    assert "mammokit.io is not allowed to import mammokit.bundle" in out.stdout
