"""Start-up sweep: files under the data folder that no database row refers to are removed.

Uploads and derived images are written before their row commits (so that a row never points at a missing
file); a crash (kill -9, power loss) between the two leaves files nobody can reach or delete through the
app, and those are patient images. At start-up, before any request, every upload whose name is no row's
`stored_name`, every derived image whose id is no row's `uid`, and every left-over temporary file is
deleted. Files younger than `grace_s` are kept, in case another server process shares the folder.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from ._db import Prediction

log = logging.getLogger("mammokit.web")


def _old(path: Path, cutoff: float) -> bool:
    try:
        return path.stat().st_mtime < cutoff
    except FileNotFoundError:
        return False


def sweep_orphans(factory: sessionmaker, upload_dir: Path, derived_dir: Path, grace_s: float = 60.0) -> int:
    """Delete unreferenced files; returns how many."""
    with factory() as db:
        stored = set(db.scalars(select(Prediction.stored_name)))
        uids = set(db.scalars(select(Prediction.uid)))
    cutoff = time.time() - grace_s
    removed = 0
    for path in sorted(upload_dir.glob("*")) if upload_dir.is_dir() else []:
        if path.is_file() and (path.name.endswith(".tmp") or path.name not in stored) and _old(path, cutoff):
            path.unlink(missing_ok=True)
            removed += 1
    for path in sorted(derived_dir.glob("*/*")) if derived_dir.is_dir() else []:
        uid = path.name.rsplit("-", 1)[0]
        if path.is_file() and (path.name.endswith(".tmp") or uid not in uids) and _old(path, cutoff):
            path.unlink(missing_ok=True)
            removed += 1
    if removed:
        log.warning("start-up sweep removed %d file(s) without a database row (left by a crash)", removed)
    return removed
