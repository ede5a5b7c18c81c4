"""Smoke test of the benchmark scripts' --quick mode (issue 7): they run, write JSON, and their figures are sane."""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def bench_modules():
    sys.path.insert(0, str(BENCH))
    try:
        import pipeline
        import throughput

        yield throughput, pipeline
    finally:
        sys.path.remove(str(BENCH))


def test_throughput_quick_writes_a_table_and_json(tmp_path, bench_modules):
    throughput, _ = bench_modules
    out = tmp_path / "t.json"
    throughput.main(["--quick", "--out", str(out), "--cache", str(tmp_path / "cache")])
    data = json.loads(out.read_text())
    runtimes = {r["runtime"] for r in data["rows"]}
    assert runtimes == {"torch", "torch-channels-last", "onnx"}
    for r in data["rows"]:
        # FLOPs are counted, not timed: lite0 at 64 px is ~0.06 GFLOP per image on any machine.
        assert 0.03 < r["gflop_per_image"] < 0.12
        assert math.isclose(r["achieved_gflops"], r["gflop_per_image"] * r["images_per_s"], rel_tol=1e-9)
    # Rates are measured, so only their presence is checked here; how fast is the script's job to report.
    assert math.isfinite(data["matmul"]["reference_gflops"])
    assert "| backbone |" in out.with_suffix(".md").read_text()


def test_pipeline_quick_compares_naive_and_ours_on_the_same_images(tmp_path, bench_modules):
    _, pipeline = bench_modules
    out = tmp_path / "p.json"
    pipeline.main(["--quick", "--skip-cli", "--out", str(out)])
    a = json.loads(out.read_text())["naive_vs_ours"]
    assert a["images"] == 2 and a["naive_seconds"] > 0 and a["ours_seconds"] > 0
    assert a["max_abs_feature_diff"] <= 1e-4  # the two pipelines compute the same features


@pytest.mark.parametrize("script", ["throughput", "pipeline"])
def test_bad_option_is_rejected(bench_modules, script, capsys):
    module = dict(zip(("throughput", "pipeline"), bench_modules))[script]
    with pytest.raises(SystemExit) as exc:
        module.main(["--repeats", "many"])
    assert exc.value.code == 2 and "invalid int value: 'many'" in capsys.readouterr().err
