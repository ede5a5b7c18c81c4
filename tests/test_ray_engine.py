"""`--engine ray` on a real two-node Ray cluster on this machine (loopback, 1 CPU per node): the work lands
on both nodes, and features and batch predictions equal the in-process engine's (same cache keys, 1e-6)."""
from __future__ import annotations

import csv

import numpy as np
import psutil
import pytest

from mammokit.bundle import load_bundle, predict_records
from mammokit.datasets import load_dataset
from mammokit.features import extract_features
from mammokit.features._ray_cluster import local_cluster
from mammokit.preprocess import PreprocessConfig
from test_batch_predict import BACKBONE, SIZE, bundles  # noqa: F401 - the real whole-image bundle fixture

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ray")]


def _ray_processes() -> set[int]:
    out = set()
    for p in psutil.process_iter(["cmdline"]):
        cmd = " ".join(p.info["cmdline"] or [])
        if "raylet" in cmd or "gcs_server" in cmd or "ray::" in cmd:
            out.add(p.pid)
    return out


def _rows(path):
    return {r["id"]: r for r in csv.DictReader(path.open()) if r["level"] == "image"}


def test_two_node_cluster_spreads_work_and_matches_local(tmp_path, bundles):  # noqa: F811
    records = load_dataset("mias")[:24]
    pre = PreprocessConfig(size=SIZE)
    local = extract_features(records, backbone=BACKBONE, preprocess=pre, cache_dir=tmp_path / "local",
                             progress=False)
    predictor = load_bundle(bundles["unearned"])
    predict_records(predictor, records, tmp_path / "local.csv", cache_dir=bundles["cache"], progress=False)
    before = _ray_processes()
    with local_cluster(nodes=2, cpus_per_node=1, timeout=180) as address:
        fs = extract_features(records, backbone=BACKBONE, preprocess=pre, cache_dir=tmp_path / "ray", progress=False,
                              engine="ray", address=address, batch_size=2)
        s = predict_records(predictor, records, tmp_path / "ray.csv", cache_dir=bundles["cache"], progress=False,
                            engine="ray", address=address, batch_size=2)
    assert _ray_processes() <= before  # both nodes and their workers are gone
    # both nodes computed features
    assert fs.stats["engine"] == "ray" and len(fs.stats["nodes"]) == 2
    assert sum(fs.stats["nodes"].values()) == len(records) and min(fs.stats["nodes"].values()) > 0
    np.testing.assert_allclose(fs.X, local.X, atol=1e-6, rtol=0)
    # the same cache keys: the local engine finds every Ray-computed feature in the Ray run's cache
    again = extract_features(records, backbone=BACKBONE, preprocess=pre, cache_dir=tmp_path / "ray", progress=False)
    assert again.stats["cache_hits"] == len(records)
    assert sorted(p.name for p in (tmp_path / "ray" / "features").rglob("*") if p.is_file()) == sorted(
        p.name for p in (tmp_path / "local" / "features").rglob("*") if p.is_file())
    # batch predictions: the same rows as the local engine
    assert s.computed == len(records) and not s.failed
    ray_rows, local_rows = _rows(tmp_path / "ray.csv"), _rows(tmp_path / "local.csv")
    assert sorted(ray_rows) == sorted(local_rows)
    for rid, row in local_rows.items():
        assert ray_rows[rid]["label"] == row["label"] and ray_rows[rid]["birads_withheld"] == row["birads_withheld"]
        for c in ("normal", "benign", "malignant"):
            assert abs(float(ray_rows[rid][f"p_{c}"]) - float(row[f"p_{c}"])) <= 1e-6
