"""Where a result came from: the one place that asks git for the commit (runs, bundles, comparisons,
benchmarks all record it)."""
from __future__ import annotations

import subprocess
from functools import lru_cache

from .constants import REPO_ROOT


@lru_cache(maxsize=1)
def git_commit() -> str | None:
    """The repository commit (with "+dirty" when tracked files differ), or None outside a checkout.

    Asked once per process: a run writes it into metrics.json and the bundle manifest, and both must agree."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True,
                             timeout=10, check=False).stdout.strip()
        if not sha:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO_ROOT,
                               capture_output=True, text=True, timeout=10, check=False).stdout.strip()
        return sha + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None
