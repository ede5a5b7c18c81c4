"""The layer contract in pyproject.toml ([tool.importlinter]) holds: no upward import, no base module that
imports a stage, no web module but the app that imports a route module (docs/architecture.md). And the checks
are real: an upward import, or a route module importing another, planted in a copy fails them."""
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
    assert "Contracts: 3 kept, 0 broken." in out.stdout


def _planted(tmp_path: Path, module: str, code: str) -> subprocess.CompletedProcess:
    """lint-imports over a copy of the source with `code` appended to `module` (a path under mammokit/)."""
    src = tmp_path / "src"
    shutil.copytree(REPO_ROOT / "src" / "mammokit", src / "mammokit",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copyfile(REPO_ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = src / "mammokit" / module
    target.write_text(target.read_text() + "\n\n" + code)
    return _lint(tmp_path, src)


def test_an_upward_import_breaks_it(tmp_path):
    out = _planted(tmp_path, "io/_read.py", "def _upward():\n    from ..bundle import load_bundle  # io -> bundle\n")
    assert out.returncode != 0
    assert "mammokit.io is not allowed to import mammokit.bundle" in out.stdout


def test_a_route_module_importing_another_breaks_it(tmp_path):
    out = _planted(tmp_path, "web/_api.py", "def _sideways():\n    from ._pages import router  # route -> route\n")
    assert out.returncode != 0
    assert "mammokit.web._api is not allowed to import mammokit.web._pages" in out.stdout


def test_a_helper_importing_a_route_module_breaks_it(tmp_path):
    out = _planted(tmp_path, "web/_queries.py", "def _upward():\n    from ._api import to_out  # helper -> route\n")
    assert out.returncode != 0
    assert "mammokit.web._queries is not allowed to import mammokit.web._api" in out.stdout
