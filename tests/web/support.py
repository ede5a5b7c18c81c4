"""Helpers shared by the web and browser tests (plain functions; fixtures live in the conftest files)."""
from __future__ import annotations

import os
import re
import uuid
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text

from mammokit.web import WebSettings, add_user, init_db

PG_URL_ENV = "MAMMOKIT_TEST_PG_URL"  # optional: an existing server instead of the suite's own throwaway one
PASSWORD = "correct horse battery"


@contextmanager
def pg_schema_url(base: str):
    """A fresh PostgreSQL schema for one test, dropped afterwards; yields a URL whose search_path is it."""
    schema = "mk_test_" + uuid.uuid4().hex[:12]
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def make_settings(tmp_path: Path, db_url: str, model_path: Path | None = None, **kw) -> WebSettings:
    return WebSettings(data_dir=tmp_path / "data", db_url=db_url, model_path=model_path,
                       secret_key="test-secret-" + "x" * 40, **kw)


def add_users(settings: WebSettings, *users: tuple[str, str]) -> None:
    _engine, factory = init_db(settings.database_url)
    for name, role in users:
        add_user(factory, name, role, PASSWORD)
    _engine.dispose()


CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    m = CSRF_RE.search(html)
    assert m, "no CSRF token in the page"
    return m.group(1)


def login(client, name: str, password: str = PASSWORD):
    """Log in through the real form (CSRF included); returns the POST response (not followed)."""
    page = client.get("/login")
    return client.post("/login", data={"username": name, "password": password, "csrf_token": csrf_of(page.text)},
                       follow_redirects=False)


def page_csrf(client) -> str:
    return csrf_of(client.get("/").text)


# --- a real, small model bundle ---------------------------------------------------------------------
TINY_BUNDLE_PER_CLASS = 12


def build_tiny_bundle(work: Path, backbone: str = "efficientnet_lite0", size: int = 224) -> Path:
    """Train a real bundle on 36 mini-MIAS images (12 per class, both breasts of a woman together) with
    EfficientNet-Lite0 at 224 px and a logistic head: the same code path as `mammokit run`, made small."""
    import csv

    import torch

    from mammokit.constants import default_mias_dir
    from mammokit.datasets import load_mias
    from mammokit.orchestration import load_config, run_config

    torch.set_num_threads(1)
    mias = default_mias_dir()
    assert mias is not None, "mini-MIAS not found beside the checkout"
    records = load_mias(mias)
    chosen, counts = [], {"normal": 0, "benign": 0, "malignant": 0}
    for r in records:
        if counts[r.label] < TINY_BUNDLE_PER_CLASS:
            counts[r.label] += 1
            chosen.append(r)
    work.mkdir(parents=True, exist_ok=True)
    manifest = work / "tiny.csv"
    with manifest.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "label", "patient_id", "id"])
        for r in chosen:
            w.writerow([str(r.path), r.label, r.patient, r.id])
    cfg = load_config(None, [
        "name=web-test", "dataset.name=manifest", f"dataset.data={manifest}", "task=3class",
        f"features.backbone={backbone}", f"features.size={size}", f"features.cache_dir={work / 'cache'}",
        "balance=none", "model.type=logistic", "protocol.name=cv", "protocol.folds=2", "protocol.repeats=1",
        "bootstrap.n=20",
    ])
    run = run_config(cfg, work / "run", progress=False, report=False)
    return run / "bundle"


def shared_bundle(tmp_path_factory) -> Path:
    """Build the tiny bundle once per test run, shared by pytest-xdist workers through a file lock."""
    from filelock import FileLock

    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return build_tiny_bundle(tmp_path_factory.mktemp("tiny-bundle"))
    root = tmp_path_factory.getbasetemp().parent  # the same folder for every worker of this run
    with FileLock(str(root / "tiny-bundle.lock")):
        done = root / "tiny-bundle" / "run" / "bundle" / "manifest.json"
        if not done.is_file():
            build_tiny_bundle(root / "tiny-bundle")
    return done.parent


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` with its content (SQLite -shm index files excluded: they change on reads)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.name.endswith("-shm")}


# A discrimination record a 36-image bundle cannot earn by itself (its measured AUC CI spans 0.5). Tests of
# what the app does with a model that HAS shown it can separate the classes put it into a copy of the real
# tiny bundle: the weights and every prediction stay real, only the recorded evidence is changed.
DISCRIMINATING_RECORD = {
    "discrimination": {"3class": {"auc": 0.80, "ci": [0.72, 0.87]},
                       "malignant_vs_rest": {"auc": 0.78, "ci": [0.66, 0.88]}},
    "near_constant": {"value": False, "spread": 0.17, "threshold": 0.02},
    "metrics": {"protocol": "cv (figures set by the test)", "leaky": False,
                "macro_roc_auc": {"value": 0.80, "ci": [0.72, 0.87]}},
}


def bundle_with_record(src: Path, dst: Path, **fields) -> Path:
    """A copy of bundle folder `src` at `dst` whose manifest.json has `fields` replaced."""
    import json
    import shutil

    if not (dst / "manifest.json").is_file():
        shutil.copytree(src, dst, dirs_exist_ok=True)
        m = json.loads((src / "manifest.json").read_text())
        m.update(fields)
        (dst / "manifest.json").write_text(json.dumps(m, indent=2))
    return dst
